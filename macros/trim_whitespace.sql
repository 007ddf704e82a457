{% macro trim_whitespace(expr) %}
    {{ return(adapter.dispatch('trim_whitespace', 'spotify_audiences')(expr)) }}
{% endmacro %}

{% macro default__trim_whitespace(expr) -%}
    {{ spotify_audiences.spotify_audiences_unsupported_adapter('trim_whitespace') }}
{%- endmacro %}

{#
    DuckDB and Snowflake both take trim(x, characters); bare trim() strips only spaces. The
    cast is a no-op on both, but the local Snowflake emulator keeps the characters argument
    only when the operand is already cast to varchar.
#}
{% macro snowflake__trim_whitespace(expr) -%}
    trim(cast({{ expr }} as {{ dbt.type_string() }}), {{ spotify_audiences.whitespace_characters() }})
{%- endmacro %}

{#
    DuckDB: trim(x, characters) costs about a microsecond a value with this many characters, so
    it runs only when an end of the value is not printable ASCII (no whitespace character is).
#}
{% macro duckdb__trim_whitespace(expr) -%}
    {%- set value = 'cast(' ~ expr ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case
        when
            ascii({{ value }}) between 33 and 126
            and ascii(substr({{ value }}, -1)) between 33 and 126
            then {{ value }}
        else {{ spotify_audiences.snowflake__trim_whitespace(expr) }}
    end
{%- endmacro %}
