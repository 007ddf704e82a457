{# Fails for every non-null value that is not 64 lower-case hex characters. #}
{% test is_sha256_hex(model, column_name) %}

with

validation as (

    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null

),

final as (

    select * from validation
    where not {{ matches_regex('value', '^[0-9a-f]{64}$') }}

)

select * from final

{% endtest %}
