with

members as (

    select * from {{ ref('stg_audience_members') }}

),

identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

audience_identifiers as (

    select * from {{ ref('spotify_audience_identifiers') }}

),

member_counts as (

    select
        audience_name,
        count(*) as member_rows

    from members
    group by 1

),

identifier_counts as (

    select
        audience_name,
        count(*) as identifiers_submitted,
        count(case when not is_valid then 1 end) as identifiers_rejected,
        count(case when is_valid then 1 end) as identifiers_hashed

    from identifiers
    group by 1

),

-- valid values withheld because they match the suppression list (they count as hashed too)
suppressed_counts as (

    select
        audience_name,
        count(*) as identifiers_suppressed,
        count(case when identifier_type = 'EMAIL_ID_SHA256' then 1 end) as suppressed_email,
        count(case when identifier_type = 'PHONE_NUMBER_SHA256' then 1 end) as suppressed_phone,
        count(case when identifier_type = 'DEVICE_ID_SHA256' then 1 end) as suppressed_device_id

    from identifiers
    where is_suppressed
    group by 1

),

distinct_hash_counts as (

    select
        audience_name,
        count(*) as distinct_hashes

    from audience_identifiers
    group by 1

),

final as (

    select
        member_counts.audience_name,
        member_counts.member_rows,
        coalesce(identifier_counts.identifiers_submitted, 0) as identifiers_submitted,
        coalesce(identifier_counts.identifiers_rejected, 0) as identifiers_rejected,
        coalesce(identifier_counts.identifiers_hashed, 0) as identifiers_hashed,
        coalesce(distinct_hash_counts.distinct_hashes, 0) as distinct_hashes,
        coalesce(suppressed_counts.identifiers_suppressed, 0) as identifiers_suppressed,
        coalesce(suppressed_counts.suppressed_email, 0) as suppressed_email,
        coalesce(suppressed_counts.suppressed_phone, 0) as suppressed_phone,
        coalesce(suppressed_counts.suppressed_device_id, 0) as suppressed_device_id

    from member_counts
    left join identifier_counts
        on member_counts.audience_name = identifier_counts.audience_name
    left join distinct_hash_counts
        on member_counts.audience_name = distinct_hash_counts.audience_name
    left join suppressed_counts
        on member_counts.audience_name = suppressed_counts.audience_name

)

select * from final
