{#
    Snowflake statements as plain Jinja: these macros use only their arguments, no dbt
    context, so dbt renders them (on-run-start, run-operation) and
    `spotify-audiences snowflake-setup` renders the very same macros. One source per statement.
#}

{#- A single-quoted Snowflake string literal; backslash is an escape character there. -#}
{% macro spotify_audiences_string_literal(value) -%}
'{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}

{% macro spotify_audiences_stage_ddl(stage) -%}
create stage if not exists {{ stage }}
    comment = 'spotify-audiences: code of the phone UDF and the sync procedure'
{%- endmacro %}

{% macro spotify_audiences_put_sql(local_path, stage) -%}
put {{ spotify_audiences.spotify_audiences_string_literal('file://' ~ local_path) }} @{{ stage }}
    auto_compress = false
    overwrite = true
{%- endmacro %}

{#- Vectorized handler (pandas batches): the per-row UDF call overhead is what limits it -#}
{% macro spotify_audiences_phone_udf_ddl(function_name, stage) -%}
create or replace function {{ function_name }}(raw varchar, region varchar)
    returns varchar
    language python
    runtime_version = '3.11'
    packages = ('phonenumbers', 'pandas')
    imports = ('@{{ stage }}/phone_numbers.py')
    handler = 'phone_numbers.normalize_phone_batch'
    comment = 'spotify-audiences: E.164 phone normalization (python_udfs/phone_numbers.py)'
{%- endmacro %}

{% macro spotify_audiences_call_sql(procedure_name, audiences=none, mart_schema=none, options=none) -%}
call {{ procedure_name }}(
    {%- set arguments = [] -%}
    {%- if audiences is not none -%}
        {%- do arguments.append('audiences => parse_json(' ~ spotify_audiences.spotify_audiences_string_literal(audiences | tojson) ~ ')::array') -%}
    {%- endif -%}
    {%- if mart_schema is not none -%}
        {%- do arguments.append('mart_schema => ' ~ spotify_audiences.spotify_audiences_string_literal(mart_schema)) -%}
    {%- endif -%}
    {%- if options -%}
        {%- do arguments.append('options => parse_json(' ~ spotify_audiences.spotify_audiences_string_literal(options | tojson) ~ ')::object') -%}
    {%- endif -%}
    {{ arguments | join(', ') }})
{%- endmacro %}

{% macro spotify_audiences_task_ddl(task_name, warehouse, cron, call_sql) -%}
create or replace task {{ task_name }}
    warehouse = {{ warehouse }}
    schedule = 'USING CRON {{ cron | replace("'", "") }}'
    comment = 'spotify-audiences: mirror the audiences to Spotify on a schedule'
as
    {{ call_sql }}
{%- endmacro %}

{% macro spotify_audiences_task_resume_sql(task_name) -%}
alter task {{ task_name }} resume
{%- endmacro %}
