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

{#- The files the phone UDF imports, as `spotify-audiences snowflake-setup` stages them -#}
{% macro spotify_audiences_phone_udf_files(phonenumbers_version) -%}
phone_numbers.py phonenumbers-{{ phonenumbers_version }}.zip
{%- endmacro %}

{#-
    Vectorized handler (pandas batches): the per-row UDF call overhead is what limits it.
    phonenumbers comes from the staged zip of the exact version the SQL fast path was generated
    from, never from PACKAGES, so the UDF answers as DuckDB does. copy grants keeps the grants
    of --grant-to roles when dbt's on-run-start recreates the function.
-#}
{% macro spotify_audiences_phone_udf_ddl(function_name, stage, phonenumbers_version) -%}
create or replace function {{ function_name }}(raw varchar, region varchar)
    copy grants
    returns varchar
    language python
    runtime_version = '3.11'
    packages = ('pandas')
    imports = (
        {%- for file in (spotify_audiences.spotify_audiences_phone_udf_files(phonenumbers_version) | string).split() -%}
        '@{{ stage }}/{{ file }}'{% if not loop.last %}, {% endif %}
        {%- endfor -%}
    )
    handler = 'phone_numbers.normalize_phone_batch'
    comment = 'spotify-audiences: E.164 phone normalization, phonenumbers {{ phonenumbers_version }}'
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

{#-
    user_task_timeout_ms: Snowflake's default (one hour) is too short for a large upload, so
    four hours unless told. suspend_task_after_num_failures: after that many failed runs in a
    row Snowflake suspends the schedule without telling anyone; error_integration (a
    notification integration) is how a failed run reaches a person.
-#}
{% macro spotify_audiences_task_ddl(
    task_name, warehouse, cron, call_sql, timeout_ms=14400000, suspend_after_failures=10,
    error_integration=none
) -%}
create or replace task {{ task_name }}
    warehouse = {{ warehouse }}
    schedule = 'USING CRON {{ cron | replace("'", "") }}'
    user_task_timeout_ms = {{ timeout_ms | int }}
    suspend_task_after_num_failures = {{ suspend_after_failures | int }}
    {%- if error_integration %}
    error_integration = {{ error_integration }}
    {%- endif %}
    comment = 'spotify-audiences: mirror the audiences to Spotify on a schedule'
as
    {{ call_sql }}
{%- endmacro %}

{% macro spotify_audiences_task_resume_sql(task_name) -%}
alter task {{ task_name }} resume
{%- endmacro %}
