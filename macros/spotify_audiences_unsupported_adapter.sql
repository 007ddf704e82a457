{#
    The default__ of a dispatched macro whose SQL only DuckDB and Snowflake are known to run:
    a compiler error naming the adapter, instead of SQL another warehouse would misread.
#}
{% macro spotify_audiences_unsupported_adapter(what) %}
    {{ exceptions.raise_compiler_error(
        "spotify-audiences supports duckdb and snowflake, not " ~ adapter.type()
        ~ " (" ~ what ~ ")."
    ) }}
{% endmacro %}
