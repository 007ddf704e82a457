{#
    Every identifier value of every row of `rows` (a relation or CTE with the member columns)
    on its own row: the row id column, audience_name, source_column, identifier_type,
    is_prehashed, the value trimmed of whitespace_characters(), and the trimmed phone_country on
    phone rows. Null and empty values are absent. A union of one select per column: `rows` is
    a table (the staging models are tables), so each select reads only its own column; a cross
    join of the rows with the six column names read every column six times and ran about five
    times slower on DuckDB at 1 M members. Members and suppression entries are unpivoted by
    this one macro, so both are read by the same rules.
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
        {%- for source_column, identifier_type in identifier_columns.items() %}
        select
            {{ row_id_column }},
            audience_name,
            cast('{{ source_column }}' as {{ dbt.type_string() }}) as source_column,
            cast('{{ identifier_type }}' as {{ dbt.type_string() }}) as identifier_type,
            {{ 'true' if source_column.endswith('_sha256') else 'false' }} as is_prehashed,
            {{ spotify_audiences.trim_whitespace(source_column) }} as identifier_value,
            {% if source_column == 'phone' -%}
            nullif({{ spotify_audiences.trim_whitespace('phone_country') }}, '')
            {%- else -%}
            cast(null as {{ dbt.type_string() }})
            {%- endif %} as phone_country

        from {{ rows }}
        where {{ source_column }} is not null
        {% if not loop.last %}
        union all
        {% endif -%}
        {%- endfor %}
    ) as unpivoted
    where identifier_value != ''
{%- endmacro %}
