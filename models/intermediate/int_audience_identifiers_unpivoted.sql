{{ config(materialized='table') }}

{%- set identifier_columns = {
    'email': 'EMAIL_ID_SHA256',
    'phone': 'PHONE_NUMBER_SHA256',
    'device_id': 'DEVICE_ID_SHA256',
    'email_sha256': 'EMAIL_ID_SHA256',
    'phone_sha256': 'PHONE_NUMBER_SHA256',
    'device_id_sha256': 'DEVICE_ID_SHA256',
} %}

with

members as (

    select * from {{ ref('stg_audience_members') }}

),

identifier_columns as (

    select * from (
        values
        {%- for source_column, identifier_type in identifier_columns.items() %}
            (
                '{{ source_column }}',
                '{{ identifier_type }}',
                {{ 'true' if source_column.endswith('_sha256') else 'false' }}
            ){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as identifier_columns (source_column, identifier_type, is_prehashed)

),

-- one pass over the members: each row meets the six columns (a union of six selects would
-- read the members six times)
unpivoted as (

    select
        members.member_row_id,
        members.audience_name,
        identifier_columns.source_column,
        identifier_columns.identifier_type,
        identifier_columns.is_prehashed,
        {{ trim_whitespace(
            "case identifier_columns.source_column"
            ~ " when 'email' then members.email"
            ~ " when 'phone' then members.phone"
            ~ " when 'device_id' then members.device_id"
            ~ " when 'email_sha256' then members.email_sha256"
            ~ " when 'phone_sha256' then members.phone_sha256"
            ~ " when 'device_id_sha256' then members.device_id_sha256 end"
        ) }} as identifier_value,
        case
            when identifier_columns.source_column = 'phone'
                then nullif({{ trim_whitespace('members.phone_country') }}, '')
        end as phone_country

    from members
    cross join identifier_columns

),

final as (

    select * from unpivoted
    where identifier_value <> ''

)

select * from final
