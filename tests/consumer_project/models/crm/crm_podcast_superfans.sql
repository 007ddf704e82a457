with

customers as (

    select * from {{ ref('crm_customers') }}

),

final as (

    select
        customer_id,
        email,
        device_id,
        hashed_email as email_sha256

    from customers
    where segment = 'podcast_superfan'

)

select * from final
