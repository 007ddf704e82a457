with

customers as (

    select * from {{ ref('crm_customers') }}

),

final as (

    select
        segment,
        count(*) as customers

    from customers
    group by 1

)

select * from final
