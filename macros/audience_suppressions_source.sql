{#
    The suppression (opt-out) list the project reads, as a select of the eight member columns
    cast to text, all of them optional: `audience_name` (empty: every audience) and any of
    `email`, `phone`, `phone_country`, `device_id`, `email_sha256`, `phone_sha256`,
    `device_id_sha256`; a missing column is read as all null.
      - var('spotify_audiences_suppression_csv'): a CSV file (DuckDB), read and checked by
        read_csv_as_text exactly as the members file is;
      - var('spotify_audiences_suppression_relation'): on any target, a model, seed or
        snapshot name (ref(), so dbt builds it first) or a schema-qualified relation
        (schema.table or database.schema.table);
      - neither: an empty list.
#}
{% macro audience_suppressions_source() %}
    {%- set columns = spotify_audiences.member_columns() -%}
    {%- set identifier_columns = spotify_audiences.identifier_columns() -%}
    {%- set csv_path = var('spotify_audiences_suppression_csv', none) -%}
    {%- set relation_name = var('spotify_audiences_suppression_relation', none) -%}

    {%- if csv_path and relation_name -%}
        {{ exceptions.raise_compiler_error(
            "Set one of the dbt vars spotify_audiences_suppression_csv and "
            ~ "spotify_audiences_suppression_relation, not both."
        ) }}
    {%- elif csv_path -%}
        {%- if adapter.type() != 'duckdb' -%}
            {{ exceptions.raise_compiler_error(
                "The dbt var spotify_audiences_suppression_csv needs the duckdb adapter; on target '"
                ~ target.name ~ "' set spotify_audiences_suppression_relation instead."
            ) }}
        {%- endif -%}
        {%- set input_name = "file '" ~ csv_path ~ "'" -%}
        {%- set from_clause = spotify_audiences.read_csv_as_text(csv_path) -%}
    {%- elif relation_name -%}
        {%- set input_name = "relation " ~ relation_name -%}
        {%- if '.' in relation_name -%}
            {%- set from_clause = relation_name -%}
        {%- else -%}
            {%- set from_clause = ref(relation_name) -%}
        {%- endif -%}
    {%- else -%}
        select
            {%- for column_name in columns %}
            cast(null as {{ dbt.type_string() }}) as {{ column_name }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        where 1 = 0
    {%- endif -%}

    {%- if csv_path or relation_name -%}
        {%- set present_columns = columns -%}
        {%- if execute -%}
            {%- set present_columns = get_columns_in_query('select * from ' ~ from_clause)
                | map('lower') | list -%}
            {%- if not (identifier_columns | select('in', present_columns) | list) -%}
                {{ exceptions.raise_compiler_error(
                    "Suppression list " ~ input_name ~ " has none of the identifier columns: "
                    ~ identifier_columns | join(', ') ~ " (plus phone_country and audience_name)."
                ) }}
            {%- endif -%}
        {%- endif -%}

    select
        {%- for column_name in columns %}
        {% if column_name in present_columns -%}
        cast({{ column_name }} as {{ dbt.type_string() }}) as {{ column_name }}
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as {{ column_name }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ from_clause }}
    {%- endif -%}
{%- endmacro %}
