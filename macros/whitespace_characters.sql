{#
    Every character Python's str.isspace() accepts, plus zero-width space (U+200B) and the byte
    order mark (U+FEFF), as code points. The other macros below render this one list.
#}
{% macro whitespace_code_points() -%}
    {{ return([
        9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760,
        8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8203,
        8232, 8233, 8239, 8287, 12288, 65279,
    ]) }}
{%- endmacro %}

{# The characters of whitespace_code_points() as a SQL string expression of chr() calls. #}
{% macro whitespace_characters() -%}
    {%- for code_point in spotify_audiences.whitespace_code_points() -%}
        chr({{ code_point }}){% if not loop.last %} || {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#
    The characters of whitespace_code_points() as the inside of an RE2 bracket expression
    (DuckDB): one \x{...} per code point, which RE2 reads as that code point.
#}
{% macro whitespace_regex_class() -%}
    {%- set escapes = [] -%}
    {%- for code_point in spotify_audiences.whitespace_code_points() -%}
        {%- do escapes.append('\\x{%x}' | format(code_point)) -%}
    {%- endfor -%}
    {{ return(escapes | join('')) }}
{%- endmacro %}
