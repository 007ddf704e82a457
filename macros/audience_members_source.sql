{#
    The members relation the project reads, as a select of the eight input columns cast to text.
    The local target reads the CSV file named by var('audience_members_csv'); every other target
    reads the relation named by var('audience_members_relation'). The input columns are checked
    when the model runs: a missing required column fails the build and names the column, a
    missing optional pre-hashed column is read as all null.
#}
{% macro audience_members_source() %}
    {%- set required_columns = ['audience_name', 'email', 'phone', 'phone_country', 'device_id'] -%}
    {%- set optional_columns = ['email_sha256', 'phone_sha256', 'device_id_sha256'] -%}

    {%- if target.name == 'local' -%}
        {%- set input_name = "file '" ~ var('audience_members_csv') ~ "'" -%}
        {%- set from_clause = spotify_audiences.read_csv_as_text(var('audience_members_csv')) -%}
    {%- else -%}
        {%- set relation_name = var('audience_members_relation') -%}
        {%- if execute and not relation_name -%}
            {{ exceptions.raise_compiler_error(
                "Set the dbt var audience_members_relation (e.g. analytics.crm.audience_members)"
                ~ " to read audience members on target '" ~ target.name ~ "'."
            ) }}
        {%- endif -%}
        {%- set input_name = "relation " ~ relation_name -%}
        {%- set from_clause = relation_name or 'audience_members' -%}
    {%- endif -%}

    {%- set present_columns = required_columns + optional_columns -%}
    {%- if execute -%}
        {%- set present_columns = get_columns_in_query('select * from ' ~ from_clause)
            | map('lower') | list -%}
        {%- set missing_columns = required_columns | reject('in', present_columns) | list -%}
        {%- if missing_columns -%}
            {{ exceptions.raise_compiler_error(
                "Audience members " ~ input_name ~ " lacks the required column(s): "
                ~ missing_columns | join(', ') ~ ". Required: " ~ required_columns | join(', ')
                ~ "; optional: " ~ optional_columns | join(', ') ~ "."
            ) }}
        {%- endif -%}
    {%- endif -%}

    select
        {%- for column_name in required_columns + optional_columns %}
        {% if column_name in present_columns -%}
        cast({{ column_name }} as {{ dbt.type_string() }}) as {{ column_name }}
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as {{ column_name }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ from_clause }}
{%- endmacro %}
