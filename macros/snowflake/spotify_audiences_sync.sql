{#
    The post-hook that mirrors the audiences to Spotify once the marts are built:

        models:
          spotify_audiences:
            marts:
              spotify_audience_summary:
                +post-hook: "{{ spotify_audiences.spotify_audiences_sync() }}"

    It does nothing unless the var spotify_audiences_sync is true, so a plain build never
    uploads. On Snowflake it calls the sync procedure, which reads the marts and reaches Spotify
    from inside Snowflake; on DuckDB it runs the same sync in the dbt process. The marts are
    ref()'d here, which makes the hooked model wait for all three (and, in dbt build, for their
    tests); for the same reason it cannot hook spotify_audience_identifiers, which the summary
    is built from.
#}
{% macro spotify_audiences_sync(audiences=none, options=none) %}
    {%- set mart_names = [
        'spotify_audience_identifiers', 'spotify_audience_rejects', 'spotify_audience_summary'
    ] -%}
    {%- if model.name == 'spotify_audience_identifiers' -%}
        {{ exceptions.raise_compiler_error(
            "spotify_audiences.spotify_audiences_sync() runs after every mart is built: put it on "
            ~ "spotify_audience_summary or on a model of your own, not on " ~ model.name ~ "."
        ) }}
    {%- endif -%}
    {%- set marts = [] -%}
    {%- for mart_name in mart_names if mart_name != model.name -%}
        {%- do marts.append(ref(mart_name)) -%}
    {%- endfor -%}
    {%- if execute and var('spotify_audiences_sync', false) -%}
        {%- set call_options = options or {} -%}
        {%- if var('spotify_audiences_config', none) and 'config' not in call_options -%}
            {%- set call_options = dict(call_options, config=var('spotify_audiences_config')) -%}
        {%- endif -%}
        {{ return(adapter.dispatch('spotify_audiences_sync_sql', 'spotify_audiences')(marts[0], audiences, call_options)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{% macro default__spotify_audiences_sync_sql(mart, audiences, options) %}
    {{ exceptions.raise_compiler_error(
        "spotify_audiences.spotify_audiences_sync() supports the duckdb and snowflake adapters, not " ~ adapter.type()
    ) }}
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
    DuckDB: the plugin's function reads the marts on a cursor of its own, which sees committed
    data only, so the model's transaction is committed first; dbt opens a new one for the hook.
#}
{% macro duckdb__spotify_audiences_sync_sql(mart, audiences, options) %}
    {%- do adapter.commit() -%}
    {%- set request = {'audiences': audiences, 'schema': mart.schema, 'options': options} -%}
    {{ return("select spotify_audiences.spotify_audiences_sync('" ~ (request | tojson | replace("'", "''")) ~ "') as sync_summary") }}
{% endmacro %}
