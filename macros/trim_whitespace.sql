{% macro trim_whitespace(expr) %}
    {{ return(adapter.dispatch('trim_whitespace')(expr)) }}
{% endmacro %}

{#
    DuckDB and Snowflake both take trim(x, characters); bare trim() strips only spaces. The
    cast is a no-op on both, but the local Snowflake emulator keeps the characters argument
    only when the operand is already cast to varchar.
#}
{% macro default__trim_whitespace(expr) -%}
    trim(cast({{ expr }} as {{ dbt.type_string() }}), {{ whitespace_characters() }})
{%- endmacro %}
