{% macro read_csv_as_text(path, columns=none) %}
    {{ return(adapter.dispatch('read_csv_as_text', 'spotify_audiences')(path, columns)) }}
{% endmacro %}

{% macro default__read_csv_as_text(path, columns=none) %}
    {{ exceptions.raise_compiler_error(
        "Reading audience members from a CSV file needs the duckdb adapter; on target '"
        ~ target.name ~ "' set the dbt var audience_members_relation instead."
    ) }}
{% endmacro %}

{#
    DuckDB: a subquery of the file's known columns (member_columns() unless `columns` is given),
    every one as varchar with empty cells as null, named as in the header (any case); other
    columns are not read. Nothing is sniffed: the dialect is pinned (comma, double quote), so a
    file full of tabs is never read as tab-separated, and DuckDB keeps leading and trailing
    whitespace (spaces, tabs, NBSP) inside values as it is in the file.

    When the model runs, the file is checked first, so that DuckDB never fails on it with an
    error that quotes the raw line (emails, device ids) into dbt's output and logs/dbt.log:
    the path must name one file (not a directory, not a glob pattern); a known column must not
    appear twice in the header; and every line must be valid UTF-8, no longer than DuckDB's
    maximum line size, with as many fields as the header and balanced quotes. The check reads
    the file with store_rejects, and a bad file fails the build with the line numbers, column
    names and kinds of error, never a value. Only known column names are ever named (in SQL
    too): a file without a header line would otherwise show its first row.
#}
{% macro duckdb__read_csv_as_text(path, columns=none) -%}
    {%- set known_columns = columns or spotify_audiences.member_columns() -%}
    {%- set path_literal = "'" ~ (path | replace("'", "''")) ~ "'" -%}
    {%- set dialect = "delim = ',', quote = '\"', escape = '\"', auto_detect = false" -%}

    {%- if not execute -%}
        {#- parsing: only the shape matters -#}
        {{ return("(select " ~ (known_columns | map('string') | join(', '))
            ~ " from read_csv(" ~ path_literal ~ ", header = true, all_varchar = true))") }}
    {%- endif -%}

    {%- set header_columns = spotify_audiences.csv_checked_header(path, path_literal, dialect, known_columns) -%}
    {%- set positions = {} -%}
    {%- for name in header_columns -%}
        {%- if name in known_columns and name not in positions -%}
            {%- do positions.update({name: loop.index}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set column_types = [] -%}
    {%- for name in header_columns -%}
        {%- do column_types.append("'c" ~ loop.index ~ "': 'VARCHAR'") -%}
    {%- endfor -%}
    {%- set selected = [] -%}
    {%- for name in known_columns if name in positions -%}
        {%- do selected.append('c' ~ positions[name] ~ ' as ' ~ name) -%}
    {%- endfor -%}
    {%- if not selected -%}
        {%- do selected.append('null as no_known_column') -%}
    {%- endif -%}
    (
        select {{ selected | join(', ') }}
        from read_csv(
            {{ path_literal }},
            {{ dialect }},
            header = true,
            columns = { {{- column_types | join(', ') -}} }
        )
    )
{%- endmacro %}

{#
    The header of a CSV file, lower-cased (one entry per field), after checking the file as
    duckdb__read_csv_as_text describes; raises a compiler error naming positions only.
#}
{% macro csv_checked_header(path, path_literal, dialect, known_columns) %}
    {%- set max_columns = 512 -%}
    {%- set no_null = 'spotify-audiences: not null' -%}
    {%- set described = "file '" ~ path ~ "'" -%}

    {#- one file: DuckDB reads every match of a pattern and every CSV of a directory -#}
    {%- if '://' not in path -%}
        {%- if modules.re.search('[*?\\[\\]{}]', path) -%}
            {{ exceptions.raise_compiler_error(
                "CSV " ~ described ~ " is a pattern (it contains * ? [ ] { or }): name one file."
            ) }}
        {%- endif -%}
        {%- set found = run_query("select count(*) from glob(" ~ path_literal ~ ")").columns[0].values()[0] -%}
        {%- if found != 1 -%}
            {%- set directory_path = path_literal[:-1] ~ "/*'" -%}
            {%- set inside = run_query("select count(*) from glob(" ~ directory_path ~ ")").columns[0].values()[0] -%}
            {%- if inside > 0 -%}
                {{ exceptions.raise_compiler_error(
                    "CSV " ~ described ~ " is a directory: name one CSV file in it."
                ) }}
            {%- endif -%}
            {{ exceptions.raise_compiler_error(
                "CSV " ~ described ~ " does not exist (relative paths start at the directory dbt runs in)."
            ) }}
        {%- endif -%}
    {%- endif -%}

    {#-
        The header line into positional columns (empty names are '', missing fields null).
        A bad header line is skipped here, and reported by the scan below, which reads every
        line including the header.
    -#}
    {%- set wide = [] -%}
    {%- for position in range(1, max_columns + 1) -%}
        {%- do wide.append("'c" ~ position ~ "': 'VARCHAR'") -%}
    {%- endfor -%}
    {%- set header_query -%}
        select * from read_csv(
            {{ path_literal }}, {{ dialect }}, header = false,
            columns = { {{- wide | join(', ') -}} }, null_padding = true, parallel = false,
            nullstr = '{{ no_null }}', ignore_errors = true
        )
        limit 1
    {%- endset -%}
    {%- set header_rows = run_query(header_query).rows -%}
    {%- if header_rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("CSV " ~ described ~ " is empty: it needs a header line.") }}
    {%- endif -%}
    {%- set header_columns = [] -%}
    {%- set ns = namespace(width=0) -%}
    {%- for value in header_rows[0] -%}
        {%- if value is not none -%}{%- set ns.width = loop.index -%}{%- endif -%}
    {%- endfor -%}
    {%- if ns.width >= max_columns -%}
        {{ exceptions.raise_compiler_error(
            "CSV " ~ described ~ " has " ~ max_columns ~ " or more columns; at most "
            ~ (max_columns - 1) ~ " are read."
        ) }}
    {%- endif -%}
    {%- for value in (header_rows[0] | list)[:ns.width] -%}
        {%- do header_columns.append((value or '') | lower) -%}
    {%- endfor -%}

    {#- a known column twice: DuckDB would rename the second one and its values would vanish -#}
    {%- set duplicates = [] -%}
    {%- for name in known_columns -%}
        {%- set positions = [] -%}
        {%- for header_name in header_columns -%}
            {%- if header_name == name -%}{%- do positions.append(loop.index | string) -%}{%- endif -%}
        {%- endfor -%}
        {%- if positions | length > 1 -%}
            {%- do duplicates.append(name ~ " (columns " ~ positions | join(', ') ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if duplicates -%}
        {{ exceptions.raise_compiler_error(
            "CSV " ~ described ~ " has duplicate column names: " ~ duplicates | join('; ')
            ~ ". Keep one column of each name."
        ) }}
    {%- endif -%}

    {#- every line, every field: errors go to a rejects table instead of the error message -#}
    {%- set suffix = local_md5(path ~ invocation_id ~ this | string)[:12] -%}
    {%- set scans_table = 'spotify_audiences_csv_scans_' ~ suffix -%}
    {%- set errors_table = 'spotify_audiences_csv_errors_' ~ suffix -%}
    {%- set column_types = [] -%}
    {%- set column_counts = [] -%}
    {%- for name in header_columns -%}
        {%- do column_types.append("'c" ~ loop.index ~ "': 'VARCHAR'") -%}
        {%- do column_counts.append("count(c" ~ loop.index ~ ")") -%}
    {%- endfor -%}
    {%- do run_query("drop table if exists " ~ errors_table) -%}
    {%- do run_query("drop table if exists " ~ scans_table) -%}
    {%- set scan_query -%}
        select {{ column_counts | join(' + ') }} as field_count
        from read_csv(
            {{ path_literal }}, {{ dialect }}, header = false,
            columns = { {{- column_types | join(', ') -}} },
            store_rejects = true, rejects_scan = '{{ scans_table }}',
            rejects_table = '{{ errors_table }}', rejects_limit = 0
        )
    {%- endset -%}
    {%- do run_query(scan_query) -%}
    {%- set errors_query -%}
        with

        errors as (

            select
                line,
                error_type,
                case
                    when column_name like 'c%' then try_cast(substr(column_name, 2) as integer)
                end as position

            from {{ errors_table }}

        ),

        final as (

            select
                line,
                error_type,
                string_agg(cast(position as varchar), ',' order by position) as positions,
                (select count(distinct line) from errors) as bad_lines

            from errors
            group by 1, 2

        )

        select * from final
        order by line, error_type
        limit 10
    {%- endset -%}
    {%- set errors = run_query(errors_query).rows -%}
    {%- do run_query("drop table if exists " ~ errors_table) -%}
    {%- do run_query("drop table if exists " ~ scans_table) -%}
    {%- if errors -%}
        {%- set kinds = {
            'INVALID ENCODING': 'not valid UTF-8',
            'INVALID UNICODE': 'not valid UTF-8',
            'LINE SIZE OVER MAXIMUM': 'longer than the maximum line size (max_line_size)',
            'MISSING COLUMNS': 'fewer fields than the header',
            'TOO MANY COLUMNS': 'more fields than the header',
            'UNQUOTED VALUE': 'a quote that is not closed, or text after a closing quote',
            'CAST': 'a value that is not text',
        } -%}
        {%- set described_errors = [] -%}
        {%- for error in errors -%}
            {%- set names = [] -%}
            {%- for position in (error[2] or '').split(',') if position -%}
                {%- set position = position | int -%}
                {%- set header_name = header_columns[position - 1] if position <= header_columns | length else '' -%}
                {%- do names.append(header_name if header_name in known_columns else position | string) -%}
            {%- endfor -%}
            {%- do described_errors.append(
                "line " ~ (error[0] | int)
                ~ (" (column " ~ names | join(', ') ~ ")" if names else "")
                ~ ": " ~ kinds.get(error[1], error[1] | lower)
            ) -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            "CSV " ~ described ~ " cannot be read, " ~ (errors[0][3] | int) ~ " bad line(s): "
            ~ described_errors | join('; ') ~ (" ..." if errors | length == 10 else "")
            ~ ". Fix or remove these lines (values are not shown, they may be personal data)."
        ) }}
    {%- endif -%}
    {{ return(header_columns) }}
{% endmacro %}
