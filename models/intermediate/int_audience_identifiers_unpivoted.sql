{%- set identifier_columns = {
    'email': 'EMAIL_ID_SHA256',
    'phone': 'PHONE_NUMBER_SHA256',
    'device_id': 'DEVICE_ID_SHA256',
    'email_sha256': 'EMAIL_ID_SHA256',
    'phone_sha256': 'PHONE_NUMBER_SHA256',
    'device_id_sha256': 'DEVICE_ID_SHA256',
} -%}

with

members as (

    select * from {{ ref('stg_audience_members') }}

),

unpivoted as (

    {% for source_column, identifier_type in identifier_columns.items() %}
    select
        member_row_id,
        audience_name,
        '{{ source_column }}' as source_column,
        '{{ identifier_type }}' as identifier_type,
        {{ 'true' if source_column.endswith('_sha256') else 'false' }} as is_prehashed,
        {{ trim_whitespace(source_column) }} as identifier_value,
        {% if source_column == 'phone' -%}
        nullif({{ trim_whitespace('phone_country') }}, '') as phone_country
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as phone_country
        {%- endif %}

    from members
    {% if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}

),

final as (

    select * from unpivoted
    where identifier_value <> ''

)

select * from final
