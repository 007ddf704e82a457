with

summary as (

    select * from {{ ref('spotify_audience_summary') }}

),

identifiers as (

    select * from {{ ref('spotify_audience_identifiers') }}

),

rejects as (

    select * from {{ ref('spotify_audience_rejects') }}

),

identifier_counts as (

    select
        audience_name,
        count(*) as identifiers_to_upload

    from identifiers
    group by 1

),

reject_counts as (

    select
        audience_name,
        sum(rejected_count) as values_rejected

    from rejects
    group by 1

),

final as (

    select
        summary.audience_name,
        summary.ad_account_id,
        summary.audience_id,
        summary.min_identifiers,
        summary.max_shrink,
        summary.max_rejected_share,
        coalesce(identifier_counts.identifiers_to_upload, 0) as identifiers_to_upload,
        coalesce(reject_counts.values_rejected, 0) as values_rejected,
        coalesce(identifier_counts.identifiers_to_upload, 0)
        >= summary.min_identifiers as meets_min_identifiers

    from summary
    left join identifier_counts
        on summary.audience_name = identifier_counts.audience_name
    left join reject_counts
        on summary.audience_name = reject_counts.audience_name

)

select * from final
