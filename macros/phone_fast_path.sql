{#
    The phone fast path: SQL that gives exactly what normalize_phone() (phonenumbers parse with
    the row's region, is_valid_number, E.164) gives, for the inputs it can prove it reads the
    same way; int_audience_identifiers_normalized sends everything else to the UDF.

    The model takes the steps of phonenumbers.parse() one CTE at a time; these macros supply
    the region-specific parts, from phone_fast_path_rules(), which python_udfs/phone_fast_path.py
    generates from phonenumbers' metadata. Patterns there use a portable regex subset, so one
    pattern serves DuckDB and Snowflake through matches_regex().

      phone_shape                   only digits and separators (space . - / ( )) with at most
                                    one leading +; letters, extensions, other symbols: UDF
      phone_prefix_length           an international prefix (00, 011) or national prefix (0)
                                    at the start, when it is a set of literals; a prefix
                                    pattern that matches: UDF
      phone_calling_code            the calling code after + or an international prefix
      phone_matches_general_pattern, phone_max_length
                                    whether a national number starting with the region's own
                                    calling code loses it, and whether a national prefix is
                                    stripped
      phone_length_rejects_stripping
                                    the length check that puts a stripped prefix back
      phone_is_valid                the number-type patterns of the regions of the calling
                                    code, in phonenumbers' order
#}

{% macro strip_non_digits(expr) %}
    {{ return(adapter.dispatch('strip_non_digits', 'spotify_audiences')(expr)) }}
{% endmacro %}

{% macro default__strip_non_digits(expr) -%}
    {{ spotify_audiences.spotify_audiences_unsupported_adapter('strip_non_digits') }}
{%- endmacro %}

{# Snowflake: regexp_replace replaces every match. #}
{% macro snowflake__strip_non_digits(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '')
{%- endmacro %}

{# DuckDB: regexp_replace replaces only the first match unless given 'g'. #}
{% macro duckdb__strip_non_digits(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '', 'g')
{%- endmacro %}

{#
    'plus' for + then digits and separators, 'plain' for digits and separators, else null.
    phonenumbers reads these as their digits alone: no letters (vanity numbers, extensions),
    no second number, no RFC 3966 parameters; it refuses inputs over 250 characters.
#}
{% macro phone_shape(expr) -%}
    case
        when length({{ expr }}) > 250 or not {{ spotify_audiences.matches_regex(expr, '[+]?[-0-9 ()./]*') }}
            then null
        when left({{ expr }}, 1) = '+' then 'plus'
        else 'plain'
    end
{%- endmacro %}

{#
    Length of the region's international_prefix or national_prefix (kind) at the start of the
    digits: -1 if the rule's guard pattern matches (left to the UDF), else the length of the
    longest literal prefix that starts the digits, 0 if none; null for a region without rules.
#}
{% macro phone_prefix_length(digits, region, kind) -%}
    {%- set regex = spotify_audiences.phone_regex_functions() -%}
    {%- set branches = [] -%}
    {%- for region_code, rule in spotify_audiences.phone_fast_path_rules().regions.items() -%}
        {%- set prefix = rule[kind] -%}
        {%- set whens = [] -%}
        {%- if prefix.pattern -%}
            {%- do whens.append(
                'when ' ~ spotify_audiences.phone_starts_with(regex, digits, prefix.pattern) ~ ' then -1'
            ) -%}
        {%- endif -%}
        {%- for group in prefix.literal_groups -%}
            {%- do whens.append(
                'when ' ~ spotify_audiences.phone_starts_with(regex, digits, group.literals | join('|'))
                ~ ' then ' ~ group.length
            ) -%}
        {%- endfor -%}
        {%- do branches.append([
            region_code, 'case ' ~ whens | join(' ') ~ ' else 0 end' if whens else '0'
        ]) -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(region, branches) }}
{%- endmacro %}

{# The supported calling code the digits start with, else null (calling codes are prefix-free). #}
{% macro phone_calling_code(digits) -%}
    {%- set regex = spotify_audiences.phone_regex_functions() -%}
    case
        {%- for group in spotify_audiences.phone_fast_path_rules().calling_code_groups %}
        when {{ spotify_audiences.phone_starts_with(regex, digits, group.codes | join('|')) }}
            then left({{ digits }}, {{ group.length }})
        {%- endfor %}
    end
{%- endmacro %}

{% macro phone_region_calling_code(region) -%}
    {%- set branches = [] -%}
    {%- for region_code, rule in spotify_audiences.phone_fast_path_rules().regions.items() -%}
        {%- do branches.append([region_code, "'" ~ rule.country_code ~ "'"]) -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(region, branches) }}
{%- endmacro %}

{# The region whose metadata phonenumbers reads a number of this calling code with. #}
{% macro phone_main_region(calling_code) -%}
    {%- set branches = [] -%}
    {%- for code, rule in spotify_audiences.phone_fast_path_rules().calling_codes.items() -%}
        {%- do branches.append([code, "'" ~ rule.main_region ~ "'"]) -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(calling_code, branches) }}
{%- endmacro %}

{#
    Whether the whole value matches the region's general description pattern (no length test).
    With only_if, the test is made only for regions where that rule flag is true and is false
    elsewhere: the generator proved the pattern cannot match there.
#}
{% macro phone_matches_general_pattern(expr, region, only_if=none) -%}
    {%- set regex = spotify_audiences.phone_regex_functions() -%}
    {%- set branches = [] -%}
    {%- for region_code, rule in spotify_audiences.phone_fast_path_rules().regions.items() -%}
        {%- if only_if is none or rule[only_if] -%}
            {%- do branches.append([region_code, spotify_audiences.phone_matches(regex, expr, rule.general_pattern)]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(region, branches, 'null' if only_if is none else 'false') }}
{%- endmacro %}

{# Numbers longer than this are too long for the region. #}
{% macro phone_max_length(region) -%}
    {%- set branches = [] -%}
    {%- for region_code, rule in spotify_audiences.phone_fast_path_rules().regions.items() -%}
        {%- do branches.append([region_code, rule.max_length | string]) -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(region, branches) }}
{%- endmacro %}

{#
    _maybe_strip_national_prefix_carrier_code: a national prefix of prefix_length digits is
    stripped, unless the number matched the general pattern and would no longer match it.
#}
{% macro phone_strip_national_prefix(expr, prefix_length, region) -%}
    {%- set rest = 'substr(' ~ expr ~ ', ' ~ prefix_length ~ ' + 1)' -%}
    case
        when
            {{ prefix_length }} > 0
            and not (
                {{ spotify_audiences.phone_matches_general_pattern(expr, region, 'general_matches_national_prefix') }}
                and not {{ spotify_audiences.phone_matches_general_pattern(rest, region, 'general_matches_national_prefix') }}
            )
            then {{ rest }}
        else {{ expr }}
    end
{%- endmacro %}

{# phonenumbers puts a stripped national prefix back when the rest has no possible length. #}
{% macro phone_length_rejects_stripping(expr, region) -%}
    {%- set branches = [] -%}
    {%- for region_code, rule in spotify_audiences.phone_fast_path_rules().regions.items() -%}
        {%- do branches.append([region_code, spotify_audiences.phone_length_in(expr, rule.stripping_rejected_lengths)]) -%}
    {%- endfor -%}
    {{ spotify_audiences.phone_case_by_region(region, branches) }}
{%- endmacro %}

{#
    is_valid_number: the regions sharing the calling code are tried in phonenumbers' order; a
    region with leading digits claims the numbers that start with them, any other region the
    numbers valid in it; the number is valid if the region that claims it finds it valid (the
    general description and one number type match). Null when the claiming region has no rules
    here (e.g. a Caribbean +1 region): left to the UDF.
#}
{% macro phone_is_valid(national_number, calling_code) -%}
    {%- set regex = spotify_audiences.phone_regex_functions() -%}
    case {{ calling_code }}
        {%- for code, rule in spotify_audiences.phone_fast_path_rules().calling_codes.items() %}
        when '{{ code }}' then
            case
                {%- for region in rule.regions %}
                {%- if region.types is defined %}
                {%- set tests = [] %}
                {%- for type in region.types %}
                {%- do tests.append(spotify_audiences.phone_matches_checked(regex, national_number, type)) %}
                {%- endfor %}
                {%- set valid = spotify_audiences.phone_matches_checked(regex, national_number, region.general)
                    ~ ' and (' ~ (tests | join(' or ') if tests else 'false') ~ ')' %}
                {%- else %}
                {%- set valid = 'null' %}
                {%- endif %}
                {%- if region.leading_digits %}
                when {{ spotify_audiences.phone_starts_with(regex, national_number, region.leading_digits) }}
                    then {{ valid }}
                {%- else %}
                when {{ valid }} then true
                {%- endif %}
                {%- endfor %}
                else false
            end
        {%- endfor %}
    end
{%- endmacro %}

{#
    matches_regex() once, with placeholders: the macros below fill it in for hundreds of
    patterns without a dispatch each (the generated patterns hold no quote or backslash).
#}
{% macro phone_regex_functions() -%}
    {{ return(spotify_audiences.matches_regex('@@EXPR@@', '@@PATTERN@@')) }}
{%- endmacro %}

{#
    The whole value matches the pattern; the group keeps a top-level alternation inside the
    anchors whatever way the engine anchors (Snowflake's regexp_like anchors implicitly).
#}
{% macro phone_matches(regex, expr, pattern) -%}
    {{ return(regex | replace('@@PATTERN@@', '(' ~ pattern ~ ')') | replace('@@EXPR@@', expr)) }}
{%- endmacro %}

{# Whether the digits start with a match of the pattern. #}
{% macro phone_starts_with(regex, expr, pattern) -%}
    {{ return(spotify_audiences.phone_matches(regex, expr, '(' ~ pattern ~ ')[0-9]*')) }}
{%- endmacro %}

{# A pattern, after a length test when the pattern alone could match another length. #}
{% macro phone_matches_checked(regex, expr, checked) -%}
    {%- if checked.lengths -%}
        {{ return('(' ~ spotify_audiences.phone_length_in(expr, checked.lengths) ~ ' and '
            ~ spotify_audiences.phone_matches(regex, expr, checked.pattern) ~ ')') }}
    {%- else -%}
        {{ return(spotify_audiences.phone_matches(regex, expr, checked.pattern)) }}
    {%- endif -%}
{%- endmacro %}

{# SQL true when length(expr) is one of lengths (a sorted list), with runs as ranges. #}
{% macro phone_length_in(expr, lengths) -%}
    {%- set runs = [] -%}
    {%- for length in lengths -%}
        {%- if runs and runs[-1][1] + 1 == length -%}
            {%- set first = runs.pop()[0] -%}
            {%- do runs.append([first, length]) -%}
        {%- else -%}
            {%- do runs.append([length, length]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set tests = [] -%}
    {%- for first, last in runs -%}
        {%- if first == last -%}
            {%- do tests.append('length(' ~ expr ~ ') = ' ~ first) -%}
        {%- elif first == 0 -%}
            {%- do tests.append('length(' ~ expr ~ ') <= ' ~ last) -%}
        {%- else -%}
            {%- do tests.append('length(' ~ expr ~ ') between ' ~ first ~ ' and ' ~ last) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('(' ~ (tests | join(' or ') if tests else 'false') ~ ')') }}
{%- endmacro %}

{# A case on key; branches are [key value, SQL] pairs, those with the same SQL share a when. #}
{% macro phone_case_by_region(key, branches, otherwise='null') -%}
    {%- set keys_by_sql = {} -%}
    {%- for key_value, sql in branches -%}
        {%- if sql not in keys_by_sql -%}
            {%- do keys_by_sql.update({sql: []}) -%}
        {%- endif -%}
        {%- do keys_by_sql[sql].append(key_value) -%}
    {%- endfor -%}
    case
        {%- for sql, key_values in keys_by_sql.items() %}
        when {{ key }} in ('{{ key_values | join("', '") }}') then {{ sql }}
        {%- endfor %}
        else {{ otherwise }}
    end
{%- endmacro %}
