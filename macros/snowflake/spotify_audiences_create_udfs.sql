{#
    on-run-start: the Python UDFs the models call. On Snowflake, normalize_phone() is (re)created
    from the files `spotify-audiences snowflake-setup` staged in the target schema's stage: the
    handler and the phonenumbers version the SQL fast path was generated from. Nothing is
    uploaded here (a user's project has no python_udfs/ folder); when the files are missing,
    the build stops and says to run the setup. `copy grants` keeps the grants given to other
    roles. DuckDB needs nothing here: the dbt-duckdb plugin registers the same handler.
#}
{% macro spotify_audiences_create_udfs() %}
    {{ return(adapter.dispatch('spotify_audiences_create_udfs', 'spotify_audiences')()) }}
{% endmacro %}

{% macro default__spotify_audiences_create_udfs() %}{% endmacro %}

{% macro snowflake__spotify_audiences_create_udfs() %}
    {%- if var('spotify_audiences_create_udfs', true) -%}
        {%- set schema = target.database ~ '.' ~ target.schema -%}
        {%- set stage = schema ~ '.spotify_audiences_code' -%}
        {%- set version = spotify_audiences.phone_fast_path_rules()['phonenumbers_version'] -%}
        {#- the local emulator has no stages worth asking; it registers the UDF itself -#}
        {%- if execute and target.account != 'fakesnow' -%}
            {%- do spotify_audiences.spotify_audiences_check_staged(stage, version) -%}
        {%- endif -%}
        {{ spotify_audiences.spotify_audiences_phone_udf_ddl(schema ~ '.normalize_phone', stage, version) }};
    {%- endif -%}
{% endmacro %}

{% macro spotify_audiences_check_staged(stage, phonenumbers_version) %}
    {%- set fix = "Run `spotify-audiences snowflake-setup --apply --part dbt` (or have an admin run "
        ~ "it) with the phonenumbers version of this package, or set the var "
        ~ "spotify_audiences_create_udfs: false where an admin manages normalize_phone()." -%}
    {%- set database, schema, name = stage.split('.') -%}
    {%- set stages = run_query(
        "show stages like '" ~ name | upper ~ "' in schema " ~ database ~ "." ~ schema
    ) -%}
    {%- if stages.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("The stage " ~ stage ~ " does not exist. " ~ fix) }}
    {%- endif -%}
    {%- set listed = run_query("list @" ~ stage) -%}
    {%- set staged = [] -%}
    {%- for row in listed.rows -%}
        {%- do staged.append(row[0].split('/')[-1]) -%}
    {%- endfor -%}
    {%- set wanted = (spotify_audiences.spotify_audiences_phone_udf_files(phonenumbers_version) | string).split() -%}
    {%- set missing = [] -%}
    {%- for file in wanted if file not in staged -%}
        {%- do missing.append(file) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "normalize_phone() needs " ~ missing | join(', ') ~ " on @" ~ stage
            ~ " (phonenumbers " ~ phonenumbers_version ~ ", the version of the SQL fast path). " ~ fix
        ) }}
    {%- endif -%}
{% endmacro %}
