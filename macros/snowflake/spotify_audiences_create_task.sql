{#
    dbt run-operation spotify_audiences_create_task --target snowflake \
        --args '{cron: "0 6 * * * Europe/Stockholm", resume: true}'

    Creates (or replaces) a Snowflake task that calls the sync procedure on a CRON schedule,
    with the statement `spotify-audiences snowflake-setup` prints. A new task is suspended until
    resumed (resume: true, or ALTER TASK ... RESUME); the role needs EXECUTE TASK to resume it.
    timeout_minutes bounds one run (default four hours); after suspend_after_failures failed
    runs in a row Snowflake suspends the schedule; error_integration names a notification
    integration that tells a person about every failed run.
#}
{% macro spotify_audiences_create_task(
    cron='0 6 * * * UTC', warehouse=none, task=none, audiences=none, resume=false,
    timeout_minutes=240, suspend_after_failures=10, error_integration=none
) %}
    {%- if target.type != 'snowflake' -%}
        {{ exceptions.raise_compiler_error(
            "spotify_audiences_create_task needs a snowflake target, not " ~ target.type
        ) }}
    {%- endif -%}
    {%- set schema = target.database ~ '.' ~ target.schema -%}
    {%- set task_name = task or schema ~ '.spotify_audiences_sync_task' -%}
    {%- set procedure = var('spotify_audiences_procedure', none)
        or schema ~ '.spotify_audiences_sync' -%}
    {%- set call_sql = spotify_audiences.spotify_audiences_call_sql(procedure, audiences) -%}
    {%- do run_query(spotify_audiences.spotify_audiences_task_ddl(
        task_name, warehouse or target.warehouse, cron, call_sql,
        (timeout_minutes | int) * 60000, suspend_after_failures, error_integration
    )) -%}
    {%- if resume -%}
        {%- do run_query(spotify_audiences.spotify_audiences_task_resume_sql(task_name)) -%}
    {%- endif -%}
    {{ log(
        "Task " ~ task_name ~ " calls " ~ procedure ~ " on '" ~ cron ~ "'; "
        ~ ("resumed." if resume else "suspended: resume it with ALTER TASK " ~ task_name ~ " RESUME."),
        info=true
    ) }}
{% endmacro %}
