{#
    The dbt var default_phone_region, upper-cased, after checking that it is two ASCII letters
    (an ISO 3166 alpha-2 code): it is written into the SQL as a literal.
#}
{% macro default_phone_region() -%}
    {%- set region = var('default_phone_region', 'US') -%}
    {%- if region is not string or not modules.re.fullmatch('[A-Za-z]{2}', region) -%}
        {{ exceptions.raise_compiler_error(
            "The dbt var default_phone_region must be two ASCII letters, an ISO 3166 alpha-2 "
            ~ "country code such as US or GB; got " ~ (region | string | tojson) ~ "."
        ) }}
    {%- endif -%}
    {{ return(region | upper) }}
{%- endmacro %}

{#
    The region a phone number is read in: its row's phone_country, upper-cased, else the var
    default_phone_region. Both the phone model and the normalized model resolve it this way,
    so that they join on it.
#}
{% macro phone_region(phone_country) -%}
    coalesce(upper({{ phone_country }}), '{{ spotify_audiences.default_phone_region() }}')
{%- endmacro %}
