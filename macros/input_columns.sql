{#
    The input columns of a members relation after audience_name (a suppression list has the
    same ones): the six identifier columns and phone_country, all optional text. The one list
    of them in SQL; Python has the same list as spotify_audiences.project.INPUT_COLUMNS.
#}
{% macro input_columns() -%}
    {{ return([
        'email', 'phone', 'phone_country', 'device_id',
        'email_sha256', 'phone_sha256', 'device_id_sha256',
    ]) }}
{%- endmacro %}

{# The eight columns of a members export (and of a suppression list). #}
{% macro member_columns() -%}
    {{ return(['audience_name'] + spotify_audiences.input_columns()) }}
{%- endmacro %}

{# The six input columns that hold an identifier: all but phone_country. #}
{% macro identifier_columns() -%}
    {{ return(spotify_audiences.input_columns() | reject('equalto', 'phone_country') | list) }}
{%- endmacro %}
