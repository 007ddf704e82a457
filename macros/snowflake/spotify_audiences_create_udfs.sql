{#
    on-run-start: the Python UDFs the models call. On Snowflake, python_udfs/phone_numbers.py is
    PUT to a stage in the target schema and normalize_phone() is created from it; DuckDB needs
    nothing here because the dbt-duckdb plugin registers the same handler on every connection.
#}
{% macro spotify_audiences_create_udfs() %}
    {{ return(adapter.dispatch('spotify_audiences_create_udfs', 'spotify_audiences')()) }}
{% endmacro %}

{% macro default__spotify_audiences_create_udfs() %}{% endmacro %}

{% macro snowflake__spotify_audiences_create_udfs() %}
    {%- if var('spotify_audiences_create_udfs', true) -%}
        {%- set schema = target.database ~ '.' ~ target.schema -%}
        {%- set stage = schema ~ '.spotify_audiences_code' -%}
        {#- dbt runs from the project directory unless --project-dir says otherwise -#}
        {%- set handler_path = (flags.PROJECT_DIR or '.') ~ '/python_udfs/phone_numbers.py' -%}
        {{ spotify_audiences.spotify_audiences_stage_ddl(stage) }};
        {{ spotify_audiences.spotify_audiences_put_sql(handler_path, stage) }};
        {{ spotify_audiences.spotify_audiences_phone_udf_ddl(schema ~ '.normalize_phone', stage) }};
    {%- endif -%}
{% endmacro %}
