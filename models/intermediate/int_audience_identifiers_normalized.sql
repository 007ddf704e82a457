{{ config(materialized='table') }}

with

identifiers as (

    select * from {{ ref('int_audience_identifiers_unpivoted') }}

),

identifiers_with_region as (

    select
        *,
        case
            when source_column = 'phone'
                then coalesce(
                    upper(phone_country),
                    '{{ var("default_phone_region") | upper }}'
                )
        end as phone_region

    from identifiers

),

-- exports repeat the same numbers; parse each (number, region) pair once
distinct_phones as (

    select distinct
        identifier_value,
        phone_region

    from identifiers_with_region
    where source_column = 'phone'

),

distinct_phones_normalized as (

    select
        identifier_value,
        phone_region,
        normalize_phone(identifier_value, phone_region) as phone_e164

    from distinct_phones

),

normalized as (

    select
        identifiers_with_region.member_row_id,
        identifiers_with_region.audience_name,
        identifiers_with_region.source_column,
        identifiers_with_region.identifier_type,
        identifiers_with_region.is_prehashed,
        identifiers_with_region.identifier_value,
        identifiers_with_region.phone_region,
        case
            when identifiers_with_region.source_column = 'phone'
                then distinct_phones_normalized.phone_e164
            else lower(identifiers_with_region.identifier_value)
        end as normalized_value

    from identifiers_with_region
    left join distinct_phones_normalized
        on
            identifiers_with_region.identifier_value
            = distinct_phones_normalized.identifier_value
            and identifiers_with_region.phone_region
            = distinct_phones_normalized.phone_region

),

validated as (

    select
        *,
        case
            when
                is_prehashed
                and not {{ matches_regex('normalized_value', '^[0-9a-f]{64}$') }}
                then 'malformed_sha256'
            when
                source_column = 'email'
                and (
                    not {{ matches_regex(
                        'normalized_value',
                        '^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$'
                    ) }}
                    or {{ contains_whitespace('normalized_value') }}
                )
                then 'malformed_email'
            when
                source_column = 'phone'
                and normalized_value is null
                then 'invalid_phone'
            when
                source_column = 'device_id'
                and not {{ matches_regex(
                    'normalized_value',
                    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                ) }}
                then 'malformed_device_id'
        end as reject_reason

    from normalized

),

hashed as (

    select
        *,
        reject_reason is null as is_valid,
        case
            when reject_reason is not null then null
            when is_prehashed then normalized_value
            else {{ sha256_hex('normalized_value') }}
        end as identifier_sha256

    from validated

),

final as (

    select
        member_row_id,
        audience_name,
        source_column,
        identifier_type,
        is_prehashed,
        identifier_value,
        phone_region,
        normalized_value,
        is_valid,
        reject_reason,
        identifier_sha256

    from hashed

)

select * from final
