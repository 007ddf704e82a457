{#
    Every identifier value of every row of `rows` (a relation or CTE with the member columns)
    on its own row: the row id column, audience_name, source_column, identifier_type,
    is_prehashed, the value trimmed of whitespace_characters(), and the trimmed phone_country on
    phone rows. Null and empty values are absent. One pass over `rows`: each row meets the six
    columns (a union of six selects would read it six times). Members and suppression entries
    are unpivoted by this one macro, so both are read by the same rules.
#}
{% macro unpivot_identifiers(rows, row_id_column) %}
    {#- a column and its pre-hashed form (`<column>_sha256`) upload as one identifier type -#}
    {%- set identifier_types = {
        'email': 'EMAIL_ID_SHA256',
        'phone': 'PHONE_NUMBER_SHA256',
        'device_id': 'DEVICE_ID_SHA256',
    } -%}
    {%- set identifier_columns = {} -%}
    {%- for source_column in spotify_audiences.identifier_columns() -%}
        {%- do identifier_columns.update({
            source_column: identifier_types[source_column | replace('_sha256', '')]
        }) -%}
    {%- endfor -%}
    select * from (
        select
            {{ rows }}.{{ row_id_column }},
            {{ rows }}.audience_name,
            identifier_columns.source_column,
            identifier_columns.identifier_type,
            identifier_columns.is_prehashed,
            {%- set value_cases = [] -%}
            {%- for source_column in identifier_columns -%}
                {%- do value_cases.append(
                    " when '" ~ source_column ~ "' then " ~ rows ~ "." ~ source_column
                ) -%}
            {%- endfor %}
            {{ spotify_audiences.trim_whitespace(
                "case identifier_columns.source_column" ~ value_cases | join('') ~ " end"
            ) }} as identifier_value,
            case
                when identifier_columns.source_column = 'phone'
                    then nullif({{ spotify_audiences.trim_whitespace(rows ~ '.phone_country') }}, '')
            end as phone_country

        from {{ rows }}
        cross join (
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
        ) as identifier_columns
    ) as unpivoted
    where identifier_value != ''
{%- endmacro %}
