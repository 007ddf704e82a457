{% macro read_csv_as_text(path) %}
    {{ return(adapter.dispatch('read_csv_as_text', 'spotify_audiences')(path)) }}
{% endmacro %}

{% macro default__read_csv_as_text(path) %}
    {{ exceptions.raise_compiler_error(
        "Reading audience members from a CSV file needs the duckdb adapter; on target '"
        ~ target.name ~ "' set the dbt var audience_members_relation instead."
    ) }}
{% endmacro %}

{#
    DuckDB: every column as varchar, empty cells as null. The dialect is pinned rather than
    sniffed, so a file full of tabs is never read as tab-separated; DuckDB keeps leading and
    trailing whitespace (spaces, tabs, NBSP) inside values as it is in the file.
#}
{% macro duckdb__read_csv_as_text(path) -%}
    read_csv(
        '{{ path | replace("'", "''") }}',
        header = true,
        all_varchar = true,
        delim = ',',
        quote = '"',
        escape = '"'
    )
{%- endmacro %}
