-- Per audience and identifier type, every non-empty value is either hashed or rejected:
-- hashed + rejected = submitted. Returns the audiences and types where that does not hold.
with

submitted_identifiers as (

    select * from {{ ref('int_audience_identifiers_unpivoted') }}

),

normalized_identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

rejects as (

    select * from {{ ref('spotify_audience_rejects') }}

),

submitted as (

    select
        audience_name,
        identifier_type,
        count(*) as submitted_count

    from submitted_identifiers
    group by 1, 2

),

hashed as (

    select
        audience_name,
        identifier_type,
        count(*) as hashed_count

    from normalized_identifiers
    where identifier_sha256 is not null
    group by 1, 2

),

rejected as (

    select
        audience_name,
        identifier_type,
        sum(rejected_count) as rejected_count

    from rejects
    group by 1, 2

),

audience_types as (

    select
        audience_name,
        identifier_type
    from submitted
    union
    select
        audience_name,
        identifier_type
    from hashed
    union
    select
        audience_name,
        identifier_type
    from rejected

),

compared as (

    select
        audience_types.audience_name,
        audience_types.identifier_type,
        coalesce(submitted.submitted_count, 0) as submitted_count,
        coalesce(hashed.hashed_count, 0) as hashed_count,
        coalesce(rejected.rejected_count, 0) as rejected_count

    from audience_types
    left join submitted
        on
            audience_types.audience_name = submitted.audience_name
            and audience_types.identifier_type = submitted.identifier_type
    left join hashed
        on
            audience_types.audience_name = hashed.audience_name
            and audience_types.identifier_type = hashed.identifier_type
    left join rejected
        on
            audience_types.audience_name = rejected.audience_name
            and audience_types.identifier_type = rejected.identifier_type

),

final as (

    select * from compared
    where hashed_count + rejected_count != submitted_count

)

select * from final
