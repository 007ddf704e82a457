{% macro trim_whitespace(expr) %}
    {{ return(adapter.dispatch('trim_whitespace')(expr)) }}
{% endmacro %}

{# DuckDB and Snowflake both take trim(x, characters); bare trim() strips only spaces. #}
{% macro default__trim_whitespace(expr) -%}
    trim({{ expr }}, {{ whitespace_characters() }})
{%- endmacro %}
