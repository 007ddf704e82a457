{#
    The var spotify_audiences_config, validated and resolved: per audience, its own settings
    over the var's defaults over the built-in defaults. Every model that reads the var calls
    this, so a mistake in it fails `dbt parse` (and every build) with a one-line error.

        spotify_audiences_config:
          defaults: {min_identifiers: 1000, max_shrink: 0.5, max_rejected_share: 0.2}
          audiences:
            "Lapsed Premium Listeners":
              model: crm_lapsed_premium
              ad_account_id: 4f0e9a4c-...
#}

{% macro spotify_audiences_builtin_defaults() -%}
    {{ return({
        'ad_account_id': none,
        'description': none,
        'min_identifiers': 1000,
        'max_shrink': 0.5,
        'max_rejected_share': 0.2,
    }) }}
{%- endmacro %}

{% macro spotify_audiences_setting_keys() -%}
    {{ return({
        'top': ['defaults', 'audiences'],
        'defaults': ['ad_account_id', 'description', 'min_identifiers', 'max_shrink', 'max_rejected_share'],
        'audience': [
            'model', 'ad_account_id', 'audience_id', 'description',
            'min_identifiers', 'max_shrink', 'max_rejected_share',
        ],
    }) }}
{%- endmacro %}

{# Levenshtein distance; the keys are short, so the quadratic table is cheap. #}
{% macro spotify_audiences_edit_distance(left, right) -%}
    {#- a namespace: a plain set inside a for loop does not outlive the iteration -#}
    {%- set rows = namespace(previous=range(right | length + 1) | list) -%}
    {%- for i in range(1, left | length + 1) -%}
        {%- set current = [i] -%}
        {%- for j in range(1, right | length + 1) -%}
            {%- set cost = 0 if left[i - 1] == right[j - 1] else 1 -%}
            {%- do current.append(
                [rows.previous[j] + 1, current[j - 1] + 1, rows.previous[j - 1] + cost] | min
            ) -%}
        {%- endfor -%}
        {%- set rows.previous = current -%}
    {%- endfor -%}
    {{ return(rows.previous[-1]) }}
{%- endmacro %}

{# The candidate closest to word when it is close enough to be a typo, else none. #}
{% macro spotify_audiences_close_match(word, candidates) -%}
    {%- set best = namespace(name=none, distance=999) -%}
    {%- for candidate in candidates -%}
        {%- set distance = spotify_audiences.spotify_audiences_edit_distance(
            word | string | lower, candidate | string | lower
        ) -%}
        {%- if distance < best.distance -%}
            {%- set best.name = candidate -%}
            {%- set best.distance = distance -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if best.name is not none and best.distance <= [2, (word | string | length) // 3] | max -%}
        {{ return(best.name) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spotify_audiences_config_error(where, message) -%}
    {{ exceptions.raise_compiler_error("spotify_audiences_config" ~ where ~ ": " ~ message) }}
{%- endmacro %}

{% macro spotify_audiences_check_keys(where, values, known, not_here=[]) -%}
    {%- if values is not mapping -%}
        {{ spotify_audiences.spotify_audiences_config_error(
            where, "expected a mapping of settings, got " ~ values ~ "."
        ) }}
    {%- endif -%}
    {%- for key in values -%}
        {%- if key in not_here -%}
            {{ spotify_audiences.spotify_audiences_config_error(
                where, "'" ~ key ~ "' is set per audience, not here."
            ) }}
        {%- elif key not in known -%}
            {%- set close = spotify_audiences.spotify_audiences_close_match(key, known) -%}
            {{ spotify_audiences.spotify_audiences_config_error(
                where,
                "unknown key '" ~ key ~ "'"
                ~ (" (did you mean '" ~ close ~ "'?)" if close else "")
                ~ "; known keys: " ~ known | join(', ') ~ "."
            ) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spotify_audiences_check_values(where, values) -%}
    {%- set uuid = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' -%}
    {%- for key in ['ad_account_id', 'audience_id'] -%}
        {%- set value = values.get(key) -%}
        {%- if value is not none and not modules.re.fullmatch(uuid, value | string | trim) -%}
            {{ spotify_audiences.spotify_audiences_config_error(
                where, key ~ " must be a UUID (8-4-4-4-12 hex digits), got '" ~ value ~ "'."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set minimum = values.get('min_identifiers') -%}
    {%- if minimum is not none and (minimum is not integer or minimum is sameas true
        or minimum is sameas false or minimum < 0) -%}
        {{ spotify_audiences.spotify_audiences_config_error(
            where, "min_identifiers must be a whole number, got '" ~ minimum ~ "'."
        ) }}
    {%- endif -%}
    {%- for key in ['max_shrink', 'max_rejected_share'] -%}
        {%- set share = values.get(key) -%}
        {%- if share is not none and (share is not number or share is sameas true
            or share is sameas false or share < 0 or share > 1) -%}
            {{ spotify_audiences.spotify_audiences_config_error(
                where, key ~ " must be a share from 0 to 1, got '" ~ share ~ "'."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set description = values.get('description') -%}
    {%- if description is not none and (description is not string or description | length > 80) -%}
        {{ spotify_audiences.spotify_audiences_config_error(
            where, "description must be text of at most 80 characters."
        ) }}
    {%- endif -%}
    {%- set model_name = values.get('model') -%}
    {%- if model_name is not none and (model_name is not string or not model_name | trim) -%}
        {{ spotify_audiences.spotify_audiences_config_error(
            where, "model must name a model, seed or snapshot of your project."
        ) }}
    {%- endif -%}
{%- endmacro %}

{#
    {'defaults': {...}, 'audiences': {name: {...}}}: every audience's settings resolved, the
    UUIDs lower-cased; raises a compiler error naming the key and audience for a bad value.
#}
{% macro spotify_audiences_settings() -%}
    {%- set keys = spotify_audiences.spotify_audiences_setting_keys() -%}
    {%- set raw = var('spotify_audiences_config', none) or {} -%}
    {%- do spotify_audiences.spotify_audiences_check_keys('', raw, keys.top) -%}

    {%- set raw_defaults = raw.get('defaults') or {} -%}
    {%- do spotify_audiences.spotify_audiences_check_keys(
        '.defaults', raw_defaults, keys.defaults, ['model', 'audience_id']
    ) -%}
    {%- do spotify_audiences.spotify_audiences_check_values('.defaults', raw_defaults) -%}
    {%- set defaults = spotify_audiences.spotify_audiences_builtin_defaults() -%}
    {%- for key, value in raw_defaults.items() if value is not none -%}
        {%- do defaults.update({key: value}) -%}
    {%- endfor -%}
    {%- if defaults.ad_account_id is not none -%}
        {%- do defaults.update({'ad_account_id': defaults.ad_account_id | string | trim | lower}) -%}
    {%- endif -%}

    {%- set raw_audiences = raw.get('audiences') or {} -%}
    {%- if raw_audiences is not mapping -%}
        {{ spotify_audiences.spotify_audiences_config_error(
            '.audiences', "expected a mapping of audience name to settings."
        ) }}
    {%- endif -%}
    {%- set audiences = {} -%}
    {%- for name, raw_settings in raw_audiences.items() -%}
        {%- set where = ".audiences['" ~ name ~ "']" -%}
        {%- if name is not string or not name | trim -%}
            {{ spotify_audiences.spotify_audiences_config_error(
                '.audiences', "audience names must be non-empty text, got '" ~ name ~ "'."
            ) }}
        {%- endif -%}
        {%- set raw_settings = raw_settings or {} -%}
        {%- do spotify_audiences.spotify_audiences_check_keys(where, raw_settings, keys.audience) -%}
        {%- do spotify_audiences.spotify_audiences_check_values(where, raw_settings) -%}
        {%- set settings = {'model': none, 'audience_id': none} -%}
        {%- do settings.update(defaults) -%}
        {%- for key, value in raw_settings.items() if value is not none -%}
            {%- do settings.update({key: value}) -%}
        {%- endfor -%}
        {%- for key in ['ad_account_id', 'audience_id'] if settings[key] is not none -%}
            {%- do settings.update({key: settings[key] | string | trim | lower}) -%}
        {%- endfor -%}
        {%- if settings.model is not none -%}
            {%- do settings.update({'model': settings.model | trim}) -%}
        {%- endif -%}
        {%- do audiences.update({name | trim: settings}) -%}
    {%- endfor -%}
    {{ return({'defaults': defaults, 'audiences': audiences}) }}
{%- endmacro %}

{#
    A SQL text literal both DuckDB and Snowflake read back as value: quotes doubled, and on
    Snowflake, where backslash escapes in string literals, backslashes doubled too.
#}
{% macro spotify_audiences_text_literal(value) -%}
    {{ return(adapter.dispatch('spotify_audiences_text_literal', 'spotify_audiences')(value)) }}
{%- endmacro %}

{% macro default__spotify_audiences_text_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}

{% macro snowflake__spotify_audiences_text_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "''")) ~ "'") }}
{%- endmacro %}

{#
    One row per audience of the var, with its resolved settings typed as the summary mart
    publishes them; no rows when the var names no audience.
#}
{% macro spotify_audiences_settings_select(settings) -%}
    {%- set rows = [] -%}
    {%- for name in settings.audiences | sort -%}
        {%- set audience = settings.audiences[name] -%}
        {%- do rows.append(spotify_audiences.spotify_audiences_settings_row(name, audience)) -%}
    {%- endfor -%}
    {%- if not rows -%}
        {%- do rows.append(
            spotify_audiences.spotify_audiences_settings_row(none, settings.defaults) ~ ' where 1 = 0'
        ) -%}
    {%- endif -%}
    {{ return(rows | join('\n\n    union all\n\n    ')) }}
{%- endmacro %}

{% macro spotify_audiences_settings_row(name, settings) -%}
    {%- set text = spotify_audiences.spotify_audiences_text_literal -%}
    {%- set number = spotify_audiences.spotify_audiences_number_literal -%}
    {{ return(
        'select\n'
        ~ '        cast(' ~ text(name) ~ ' as varchar) as audience_name,\n'
        ~ '        cast(' ~ text(settings.ad_account_id) ~ ' as varchar) as ad_account_id,\n'
        ~ '        cast(' ~ text(settings.get('audience_id')) ~ ' as varchar) as audience_id,\n'
        ~ '        cast(' ~ text(settings.description) ~ ' as varchar) as description,\n'
        ~ '        cast(' ~ number(settings.min_identifiers) ~ ' as integer) as min_identifiers,\n'
        ~ '        cast(' ~ number(settings.max_shrink) ~ ' as double) as max_shrink,\n'
        ~ '        cast(' ~ number(settings.max_rejected_share) ~ ' as double) as max_rejected_share'
    ) }}
{%- endmacro %}

{% macro spotify_audiences_number_literal(value) -%}
    {{ return('null' if value is none else value | string) }}
{%- endmacro %}

{#
    Post-hook of spotify_audience_summary: a warning for each audience of the var that has no
    row in the summary (a typo in its name, or a model without rows), with the closest name
    that the build did find.
#}
{% macro spotify_audiences_warn_unmatched_audiences() -%}
    {%- if execute -%}
        {%- set configured = spotify_audiences.spotify_audiences_settings().audiences -%}
        {%- if configured -%}
            {%- set found = run_query('select distinct audience_name from ' ~ this)
                .columns[0].values() | list -%}
            {%- for name in configured | sort if name not in found -%}
                {%- set close = spotify_audiences.spotify_audiences_close_match(name, found) -%}
                {%- do exceptions.warn(
                    "spotify_audiences_config names the audience '" ~ name ~ "', which has no"
                    ~ " members in this build"
                    ~ (" (did you mean '" ~ close ~ "'?)" if close else "")
                    ~ "; it is not synced. Audiences built: " ~ (found | sort | join(', ') or 'none') ~ "."
                ) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
