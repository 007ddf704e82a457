with

customers as (

    select * from {{ ref('crm_customers') }}

),

final as (

    select
        customer_id,
        email,
        phone,
        phone_country

    from customers
    where segment = 'lapsed_premium'

)

select * from final
