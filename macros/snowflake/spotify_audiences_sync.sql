{#
    The post-hook that mirrors the audiences to Spotify. The package puts it on its terminal
    model spotify_audience_sync, which reads the three marts:

        models:
          spotify_audiences:
            sync:
              spotify_audience_sync:
                +post-hook: "{{ spotify_audiences.spotify_audiences_sync() }}"

    dbt runs that model only after every mart is built and, in `dbt build`, after every test
    on the marts and upstream of them has passed; a failing test skips it, and the hook with
    it. The hook does nothing unless the var spotify_audiences_sync is true, so a plain build
    never uploads. On Snowflake it calls the sync procedure, which reads the marts and reaches
    Spotify from inside Snowflake; on DuckDB the plugin runs the same sync in the dbt process.
    Either way the sync reads the marts where this build wrote them (the schema of
    spotify_audience_summary, custom schemas included) and each audience's settings from the
    summary's columns.
#}
{% macro spotify_audiences_sync(audiences=none, options=none) %}
    {%- if execute and var('spotify_audiences_sync', false) -%}
        {%- set summary = spotify_audiences.spotify_audiences_mart_relation('spotify_audience_summary') -%}
        {#- dbt already gated this hook on the tests; the build log row of this invocation is
            written only in on-run-end, so the sync must not gate on the previous one -#}
        {%- set call_options = dict(options or {}, test_gate=false) -%}
        {{ return(adapter.dispatch('spotify_audiences_sync_sql', 'spotify_audiences')(
            summary, audiences, call_options
        )) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#
    The relation a model of this package is built as, from the graph (its database and schema
    are resolved at parse time, generate_schema_name and custom schemas included).
#}
{% macro spotify_audiences_mart_relation(model_name) %}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == 'spotify_audiences'
            and node.name == model_name -%}
            {{ return(api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.alias
            )) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "spotify-audiences: the model " ~ model_name ~ " is not in this project's graph; is it disabled?"
    ) }}
{% endmacro %}

{% macro default__spotify_audiences_sync_sql(mart, audiences, options) %}
    {{ spotify_audiences.spotify_audiences_unsupported_adapter('spotify_audiences.spotify_audiences_sync()') }}
{% endmacro %}

{# Snowflake: the procedure reads the marts where this build wrote them. #}
{% macro snowflake__spotify_audiences_sync_sql(mart, audiences, options) %}
    {%- set procedure = var('spotify_audiences_procedure', none)
        or target.database ~ '.' ~ target.schema ~ '.spotify_audiences_sync' -%}
    {{ return(spotify_audiences.spotify_audiences_call_sql(
        procedure, audiences, mart.database ~ '.' ~ mart.schema, options
    )) }}
{% endmacro %}

{#
    DuckDB: the plugin's function spotify_audiences_sync(request) reads the marts on a cursor of
    its own, which sees committed data only, so the model's transaction is committed first; dbt
    opens a new one for the hook.
#}
{% macro duckdb__spotify_audiences_sync_sql(mart, audiences, options) %}
    {%- do adapter.commit() -%}
    {%- set request = {'audiences': audiences, 'schema': mart.schema, 'options': options} -%}
    {{ return("select spotify_audiences_sync('" ~ (request | tojson | replace("'", "''")) ~ "') as sync_summary") }}
{% endmacro %}
