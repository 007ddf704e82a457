with

identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

final as (

    select distinct
        audience_name,
        identifier_type,
        identifier_sha256

    from identifiers
    where is_valid and not is_suppressed

)

select * from final
