{#
    Fails for every combination of the columns that occurs more than once (the key of a model
    whose grain spans several columns).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

validation as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as row_count

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

),

final as (

    select * from validation
    where row_count > 1

)

select * from final

{% endtest %}
