{% macro contains_whitespace(expr) %}
    {{ return(adapter.dispatch('contains_whitespace')(expr)) }}
{% endmacro %}

{#
    True when any whitespace character is inside the value. DuckDB's RE2 and Snowflake's \s only
    know ASCII whitespace, so this deletes the full set with translate() and compares lengths.
#}
{% macro default__contains_whitespace(expr) -%}
    (length(translate({{ expr }}, {{ whitespace_characters() }}, '')) < length({{ expr }}))
{%- endmacro %}

{#
    DuckDB: translate() with this many characters costs about a microsecond a value, so values
    that are all ASCII (one byte per character) are tested against the ASCII whitespace alone.
#}
{% macro duckdb__contains_whitespace(expr) -%}
    case
        when strlen({{ expr }}) = length({{ expr }})
            then regexp_matches({{ expr }}, '[\x09-\x0d\x1c-\x20]')
        else {{ default__contains_whitespace(expr) }}
    end
{%- endmacro %}
