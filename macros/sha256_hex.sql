{% macro sha256_hex(expr) %}
    {{ return(adapter.dispatch('sha256_hex', 'spotify_audiences')(expr)) }}
{% endmacro %}

{% macro default__sha256_hex(expr) -%}
    {{ spotify_audiences.spotify_audiences_unsupported_adapter('sha256_hex') }}
{%- endmacro %}

{# Snowflake: sha2(x, 256) returns 64 lower-case hex characters of the UTF-8 bytes. #}
{% macro snowflake__sha256_hex(expr) -%}
    sha2({{ expr }}, 256)
{%- endmacro %}

{# DuckDB has no sha2(); sha256(varchar) gives the same lower-case hex of the UTF-8 bytes. #}
{% macro duckdb__sha256_hex(expr) -%}
    sha256({{ expr }})
{%- endmacro %}
