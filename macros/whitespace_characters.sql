{#
    Every character Python's str.isspace() accepts, plus zero-width space (U+200B) and the byte
    order mark (U+FEFF), as a SQL string expression built from chr() calls.
#}
{% macro whitespace_characters() -%}
    {%- set code_points = [
        9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760,
        8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8203,
        8232, 8233, 8239, 8287, 12288, 65279,
    ] -%}
    {%- for code_point in code_points -%}
        chr({{ code_point }}){% if not loop.last %} || {% endif %}
    {%- endfor -%}
{%- endmacro %}
