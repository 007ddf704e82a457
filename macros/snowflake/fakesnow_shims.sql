{#
    Shims for the fakesnow test target only (target.account == 'fakesnow'); on Snowflake each
    one returns dbt's own macro unchanged. fakesnow runs the SQL on DuckDB, which refuses
    database-qualified temporary tables and views: dbt's unit tests create exactly those.
#}

{% macro snowflake__create_view_as_with_temp_flag(relation, sql, is_temporary=False) -%}
    {{ return(dbt.snowflake__create_view_as_with_temp_flag(
        relation, sql, is_temporary and target.account != 'fakesnow'
    )) }}
{%- endmacro %}

{% macro snowflake__create_table_temporary_sql(relation, compiled_code) -%}
    {%- if target.account == 'fakesnow' -%}
        create or replace table {{ relation }} as ({{ compiled_code }});
    {%- else -%}
        {{ return(dbt.snowflake__create_table_temporary_sql(relation, compiled_code)) }}
    {%- endif -%}
{%- endmacro %}
