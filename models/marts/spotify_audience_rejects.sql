with

identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

final as (

    select
        audience_name,
        identifier_type,
        reject_reason as reason,
        cast(count(*) as bigint) as rejected_count

    from identifiers
    where not is_valid
    group by 1, 2, 3

)

select * from final
