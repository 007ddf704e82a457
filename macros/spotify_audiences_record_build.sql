{#
    on-run-end (this package's dbt_project.yml): records the outcome of the invocation in
    spotify_audience_build_log, beside spotify_audience_summary, for every invocation that built
    a mart or ran a data or unit test on a mart or on anything upstream of the marts. The sync
    outside dbt (the CLI, the Snowflake procedure) reads the latest row and refuses to upload
    marts whose build had a failing, erroring or skipped test. target/run_results.json would
    not do: the next dbt command overwrites it, and it is not in the warehouse.

    Columns: invocation_id, recorded_at (UTC, no time zone), dbt_command, target_name,
    marts_built, tests_run, tests_failed (status fail, error or skipped; warn passes),
    failed_tests (JSON array of {"name": <test node name>, "status": <status>}).
#}
{% macro spotify_audiences_record_build(results) %}
    {%- if not execute or flags.WHICH not in ['build', 'run', 'test', 'seed', 'snapshot', 'retry'] -%}
        {{ return('') }}
    {%- endif -%}
    {%- set mart_names = [
        'spotify_audience_identifiers', 'spotify_audience_rejects', 'spotify_audience_summary'
    ] -%}
    {%- set mart_ids = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == 'spotify_audiences'
            and node.name in mart_names -%}
            {%- do mart_ids.append(node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if mart_ids | length < mart_names | length -%}
        {{ return('') }}
    {%- endif -%}

    {#- the marts and everything upstream of them: a breadth-first walk of depends_on -#}
    {%- set upstream = {} -%}
    {%- set queue = mart_ids | list -%}
    {%- for unique_id in queue -%}
        {%- if unique_id not in upstream -%}
            {%- do upstream.update({unique_id: true}) -%}
            {%- set node = graph.nodes.get(unique_id) -%}
            {%- if node -%}
                {%- do queue.extend(node.depends_on.nodes) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set outcome = namespace(marts_built=false, tests_run=0) -%}
    {%- set failed_tests = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- set status = (result.status | string | lower) -%}
        {%- if node.unique_id in mart_ids and status == 'success' -%}
            {%- set outcome.marts_built = true -%}
        {%- endif -%}
        {%- if node.resource_type in ['test', 'unit_test']
            and node.depends_on.nodes | select('in', upstream) | list -%}
            {%- set outcome.tests_run = outcome.tests_run + 1 -%}
            {%- if status in ['fail', 'error', 'skipped'] -%}
                {%- do failed_tests.append({'name': node.name, 'status': status}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not outcome.marts_built and outcome.tests_run == 0 -%}
        {{ return('') }}
    {%- endif -%}

    {%- set summary = spotify_audiences.spotify_audiences_mart_relation('spotify_audience_summary') -%}
    {%- set build_log = summary.incorporate(path={'identifier': 'spotify_audience_build_log'}) -%}
    {%- set row = {
        'invocation_id': invocation_id,
        'recorded_at': modules.datetime.datetime.now(modules.pytz.utc).replace(tzinfo=none)
            .isoformat(sep=' ', timespec='microseconds'),
        'dbt_command': flags.WHICH,
        'target_name': target.name,
        'marts_built': outcome.marts_built,
        'tests_run': outcome.tests_run,
        'tests_failed': failed_tests | length,
        'failed_tests': failed_tests | tojson,
    } -%}
    {{ return(adapter.dispatch('spotify_audiences_build_log_sql', 'spotify_audiences')(build_log, row)) }}
{% endmacro %}

{% macro spotify_audiences_build_log_columns(timestamp_type) %}
    {{ return([
        ['invocation_id', 'varchar'],
        ['recorded_at', timestamp_type],
        ['dbt_command', 'varchar'],
        ['target_name', 'varchar'],
        ['marts_built', 'boolean'],
        ['tests_run', 'integer'],
        ['tests_failed', 'integer'],
        ['failed_tests', 'varchar'],
    ]) }}
{% endmacro %}

{# Portable SQL; Snowflake spells a timestamp without time zone timestamp_ntz. #}
{% macro default__spotify_audiences_build_log_sql(build_log, row) %}
    {{ return(spotify_audiences.spotify_audiences_build_log_statements(build_log, row, 'timestamp')) }}
{% endmacro %}

{% macro snowflake__spotify_audiences_build_log_sql(build_log, row) %}
    {{ return(spotify_audiences.spotify_audiences_build_log_statements(build_log, row, 'timestamp_ntz')) }}
{% endmacro %}

{% macro spotify_audiences_build_log_statements(build_log, row, timestamp_type) %}
    {%- set columns = spotify_audiences.spotify_audiences_build_log_columns(timestamp_type) -%}
    {%- set definitions = [] -%}
    {%- set values = [] -%}
    {%- for name, data_type in columns -%}
        {%- do definitions.append(name ~ ' ' ~ data_type) -%}
        {%- set value = row[name] -%}
        {%- if value is sameas true or value is sameas false -%}
            {%- do values.append('true' if value else 'false') -%}
        {%- elif data_type == 'integer' -%}
            {%- do values.append(value | int | string) -%}
        {%- else -%}
            {%- do values.append(
                'cast(' ~ spotify_audiences.spotify_audiences_text_literal(value) ~ ' as ' ~ data_type ~ ')'
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set statements = [
        'create schema if not exists ' ~ build_log.without_identifier(),
        'create table if not exists ' ~ build_log ~ ' (' ~ definitions | join(', ') ~ ')',
        'insert into ' ~ build_log ~ ' (' ~ columns | map(attribute=0) | join(', ') ~ ')'
            ~ ' values (' ~ values | join(', ') ~ ')',
    ] -%}
    {{ return(statements | join(';\n') ~ ';') }}
{% endmacro %}
