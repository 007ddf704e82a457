{#
    The members of every audience, as a union of selects of the eight input columns cast to
    text (audience_name, then the seven identifier columns). Two kinds of input feed it, and
    both may feed one build:

    - each audience of the var spotify_audiences_config that names a `model:` (a model, seed
      or snapshot of your project, or <package>.<name> of another package): its rows are the audience's members, ref()'d so that the
      model is upstream of the marts; any of the seven identifier columns it lacks is read as
      null, and a model with none of them fails the build naming the model and the audience;
    - the single-relation input, a dbt source with an audience_name column: the relation named
      by the var audience_members_relation, else (DuckDB) the CSV file named by the var
      audience_members_csv, which defaults to this repository's demo file only when this
      repository is the root project. Which of the two is enabled is decided in
      models/staging/_staging__sources.yml; spotify_audiences_members_input() mirrors it.

    The input columns are checked when the model runs: a missing required column fails the
    build and names the column, a missing optional pre-hashed column is read as all null.
#}
{% macro audience_members_source() %}
    {%- set identifier_columns = [
        'email', 'phone', 'phone_country', 'device_id',
        'email_sha256', 'phone_sha256', 'device_id_sha256',
    ] -%}
    {%- set selects = [] -%}

    {%- set members_input = spotify_audiences.spotify_audiences_members_input() -%}
    {%- if members_input is not none -%}
        {%- do selects.append(spotify_audiences.spotify_audiences_select_members_input(
            members_input, identifier_columns
        )) -%}
    {%- endif -%}

    {%- set settings = spotify_audiences.spotify_audiences_settings() -%}
    {%- for audience_name in settings.audiences | sort -%}
        {%- set model_name = settings.audiences[audience_name].model -%}
        {%- if model_name -%}
            {#-
                A two-argument ref names the package: your project's node (not one of this
                package's), without dbt's warning about a package depending on the root
                project. `<package>.<model>` names a node of another package.
            -#}
            {%- set package_name, node_name = model_name.split('.', 1) if '.' in model_name
                else [project_name, model_name] -%}
            {%- do selects.append(spotify_audiences.spotify_audiences_select_audience_model(
                audience_name, ref(package_name, node_name), model_name, identifier_columns
            )) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- if not selects -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "spotify-audiences has no audience members to read: name a model for each"
                ~ " audience in the var spotify_audiences_config (audiences: {<name>: {model:"
                ~ " <model>}}), or set the var audience_members_relation (or, on DuckDB,"
                ~ " audience_members_csv)."
            ) }}
        {%- endif -%}
        {#- parsing only: a select of the right shape, without rows -#}
        {%- set nulls = [] -%}
        {%- for column_name in ['audience_name'] + identifier_columns -%}
            {%- do nulls.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column_name) -%}
        {%- endfor -%}
        {%- do selects.append('select ' ~ nulls | join(', ') ~ ' where 1 = 0') -%}
    {%- endif -%}

    {{ selects | join('\n\n    union all\n\n    ') }}
{%- endmacro %}

{#
    The single-relation input as a relation (a dbt source), or none when it is not configured.
    The same conditions enable the sources in models/staging/_staging__sources.yml: keep both
    in step, because calling source() on a disabled source fails the parse.
#}
{% macro spotify_audiences_members_input() -%}
    {%- if var('audience_members_relation', none) -%}
        {{ return(source('spotify_audiences', 'audience_members')) }}
    {%- elif var('audience_members_csv', none) or project_name == 'spotify_audiences' -%}
        {{ return(source('spotify_audiences', 'audience_members_csv')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spotify_audiences_select_members_input(members_input, identifier_columns) -%}
    {%- set required_columns = ['audience_name', 'email', 'phone', 'phone_country', 'device_id'] -%}
    {%- set all_columns = ['audience_name'] + identifier_columns -%}
    {%- if members_input.identifier == 'audience_members_csv' -%}
        {#-
            dbt-duckdb renders a source with meta.external_location as that location, quoted
            unless it is a function call; read_csv_as_text reads the file with every column
            as text. On any other adapter read_csv_as_text says to use a relation instead.
        -#}
        {%- set location = members_input.external if adapter.type() == 'duckdb' else none -%}
        {%- set location = location or var('audience_members_csv', none) or '' -%}
        {%- if location[:1] == "'" and location[-1:] == "'" -%}
            {%- set location = location[1:-1] -%}
        {%- endif -%}
        {%- set input_name = "file '" ~ location ~ "'" -%}
        {%- set from_clause = spotify_audiences.read_csv_as_text(location) -%}
    {%- else -%}
        {%- set input_name = "relation " ~ members_input -%}
        {%- set from_clause = members_input | string -%}
    {%- endif -%}

    {%- set present_columns = all_columns -%}
    {%- if execute -%}
        {%- set present_columns = get_columns_in_query('select * from ' ~ from_clause)
            | map('lower') | list -%}
        {%- set missing_columns = required_columns | reject('in', present_columns) | list -%}
        {%- if missing_columns -%}
            {{ exceptions.raise_compiler_error(
                "Audience members " ~ input_name ~ " lacks the required column(s): "
                ~ missing_columns | join(', ') ~ ". Required: " ~ required_columns | join(', ')
                ~ "; optional: email_sha256, phone_sha256, device_id_sha256."
            ) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(spotify_audiences.spotify_audiences_select_text_columns(
        all_columns, present_columns, from_clause
    )) }}
{%- endmacro %}

{% macro spotify_audiences_select_audience_model(audience_name, relation, model_name, identifier_columns) -%}
    {%- set present_columns = identifier_columns -%}
    {%- if execute -%}
        {%- set present_columns = get_columns_in_query('select * from ' ~ relation)
            | map('lower') | list -%}
        {%- if not identifier_columns | select('in', present_columns) | list -%}
            {{ exceptions.raise_compiler_error(
                "Audience '" ~ audience_name ~ "' reads its members from model '" ~ model_name
                ~ "', which has none of the member columns " ~ identifier_columns | join(', ')
                ~ " (it has: " ~ present_columns | join(', ') ~ ")."
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- set name_literal = spotify_audiences.spotify_audiences_text_literal(audience_name) -%}
    {{ return(spotify_audiences.spotify_audiences_select_text_columns(
        identifier_columns, present_columns, relation,
        'cast(' ~ name_literal ~ ' as ' ~ dbt.type_string() ~ ') as audience_name'
    )) }}
{%- endmacro %}

{# select <leading>, each column cast to text, or a null of text when the input lacks it. #}
{% macro spotify_audiences_select_text_columns(columns, present_columns, from_clause, leading=none) -%}
    {%- set expressions = [leading] if leading else [] -%}
    {%- for column_name in columns -%}
        {%- if column_name in present_columns -%}
            {%- do expressions.append(
                'cast(' ~ column_name ~ ' as ' ~ dbt.type_string() ~ ') as ' ~ column_name
            ) -%}
        {%- else -%}
            {%- do expressions.append(
                'cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column_name
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('select\n        ' ~ expressions | join(',\n        ') ~ '\n    from ' ~ from_clause) }}
{%- endmacro %}

{#
    A row key that needs no sort, for the staging models, as a bigint: the top 43 bits of the
    row's 64-bit hash() over all of its columns (DuckDB and Snowflake both have a many-argument,
    null-aware hash()) times 2^20, plus the row's ordinal among the rows with those 43 bits.
    The window partitions by the hash (one or two rows each), never sorts the input. Identical
    rows get ordinals 1, 2, ... in any order, which is the same result because they cannot be
    told apart; different rows that share the 43 bits are ordered by their full hash, then by a
    second hash of the columns in reverse order, so the same input gives the same keys on every
    run of the same warehouse. Unique as long as fewer than 2^20 (1,048,576) identical rows
    share a key; the unique test on the key fails the build otherwise. A bigint, not a wider
    number: grouping and joining on it is several times faster on DuckDB.
#}
{% macro spotify_audiences_row_key(columns) -%}
    {{ return(adapter.dispatch('spotify_audiences_row_key', 'spotify_audiences')(columns)) }}
{%- endmacro %}

{% macro default__spotify_audiences_row_key(columns) -%}
    {%- set row_hash = 'hash(' ~ columns | join(', ') ~ ')' -%}
    {%- set bucket = 'bitshiftright(' ~ row_hash ~ ', 21)' -%}
    cast(
        {{ bucket }} * 1048576
        + row_number() over (
            partition by {{ bucket }}
            order by {{ row_hash }}, hash({{ columns | reverse | join(', ') }})
        )
        as bigint
    )
{%- endmacro %}

{# DuckDB: hash() is an unsigned 64-bit integer; its top 43 bits fit a bigint. #}
{% macro duckdb__spotify_audiences_row_key(columns) -%}
    {%- set row_hash = 'hash(' ~ columns | join(', ') ~ ')' -%}
    {%- set bucket = 'cast(' ~ row_hash ~ ' >> 21 as bigint)' -%}
    {{ bucket }} * 1048576
    + row_number() over (
        partition by {{ bucket }}
        order by {{ row_hash }}, hash({{ columns | reverse | join(', ') }})
    )
{%- endmacro %}
