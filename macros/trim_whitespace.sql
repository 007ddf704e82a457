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
    DuckDB: trim(x, characters) costs about a microsecond a value with this many characters (it
    reads the characters again for every value), so it is not used. A value whose two ends are
    printable ASCII (no whitespace character is) is returned as it is; any other value loses its
    leading and trailing runs of whitespace characters through one anchored regex replacement,
    about a sixth of trim's cost: "^[ws]+" takes the leading run (all of a value that is only
    whitespace), "[ws]+$" the trailing one, and 'g' applies both.
#}
{% macro duckdb__trim_whitespace(expr) -%}
    {%- set value = 'cast(' ~ expr ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    {%- set whitespace = spotify_audiences.whitespace_regex_class() -%}
    case
        when
            ascii({{ value }}) between 33 and 126
            and ascii(substr({{ value }}, -1)) between 33 and 126
            then {{ value }}
        else regexp_replace({{ value }}, '^[{{ whitespace }}]+|[{{ whitespace }}]+$', '', 'g')
    end
{%- endmacro %}
