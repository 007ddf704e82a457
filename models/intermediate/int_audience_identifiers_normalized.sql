{%- set zero_device_id = '00000000-0000-0000-0000-000000000000' %}

with

member_identifiers as (

    select * from {{ ref('int_audience_identifiers_unpivoted') }}

),

suppression_identifiers as (

    select * from {{ ref('int_audience_suppressions_unpivoted') }}

),

-- each distinct (number, region) pair in E.164, or null when it is not a valid number
phones as (

    select * from {{ ref('int_audience_phones_normalized') }}

),

-- suppression entries go through exactly the member rules below, then part from the members:
-- a messy email or a national phone number suppresses the hash its member row gets
identifiers as (

    select
        'member' as row_kind,
        member_row_id as row_id,
        audience_name,
        source_column,
        identifier_type,
        is_prehashed,
        identifier_value,
        phone_country

    from member_identifiers

    union all

    select
        'suppression' as row_kind,
        suppression_row_id as row_id,
        audience_name,
        source_column,
        identifier_type,
        is_prehashed,
        identifier_value,
        phone_country

    from suppression_identifiers

),

identifiers_with_region as (

    select
        *,
        case
            when source_column = 'phone'
                then {{ spotify_audiences.phone_region('phone_country') }}
        end as phone_region

    from identifiers

),

normalized as (

    select
        identifiers_with_region.row_kind,
        identifiers_with_region.row_id,
        identifiers_with_region.audience_name,
        identifiers_with_region.source_column,
        identifiers_with_region.identifier_type,
        identifiers_with_region.is_prehashed,
        identifiers_with_region.identifier_value,
        identifiers_with_region.phone_region,
        case
            when identifiers_with_region.source_column = 'phone'
                then phones.phone_e164
            else lower(identifiers_with_region.identifier_value)
        end as normalized_value

    from identifiers_with_region
    left join phones
        on
            identifiers_with_region.identifier_value = phones.identifier_value
            and identifiers_with_region.phone_region = phones.phone_region

),

validated as (

    select
        *,
        case
            when
                is_prehashed
                and not {{ matches_regex('normalized_value', '^[0-9a-f]{64}$') }}
                then 'malformed_sha256'
            -- the all-zero id is what iOS (tracking refused) and Android (ads personalization
            -- off) report instead of an id: it is nobody's, so it is never uploaded
            when
                source_column = 'device_id_sha256'
                and normalized_value = {{ sha256_hex("'" ~ zero_device_id ~ "'") }}
                then 'zero_device_id'
            -- is_valid_email and no invisible character, in one regex pass on DuckDB
            when
                source_column = 'email'
                and not {{ is_valid_visible_email('normalized_value') }}
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
            when
                source_column = 'device_id'
                and normalized_value = '{{ zero_device_id }}'
                then 'zero_device_id'
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

-- every valid suppression hash, for its audience or (audience_name null) for every audience
suppression_hashes as (

    select distinct
        audience_name,
        identifier_type,
        identifier_sha256

    from hashed
    where row_kind = 'suppression' and is_valid

),

member_hashes as (

    select * from hashed
    where row_kind = 'member'

),

suppressed_members as (

    select distinct
        member_hashes.row_id,
        member_hashes.source_column

    from member_hashes
    inner join suppression_hashes
        on
            member_hashes.identifier_type = suppression_hashes.identifier_type
            and member_hashes.identifier_sha256 = suppression_hashes.identifier_sha256
            and (
                suppression_hashes.audience_name is null
                or member_hashes.audience_name = suppression_hashes.audience_name
            )

),

final as (

    select
        member_hashes.row_id as member_row_id,
        member_hashes.audience_name,
        member_hashes.source_column,
        member_hashes.identifier_type,
        member_hashes.is_prehashed,
        member_hashes.identifier_value,
        member_hashes.phone_region,
        member_hashes.normalized_value,
        member_hashes.is_valid,
        member_hashes.reject_reason,
        member_hashes.identifier_sha256,
        suppressed_members.row_id is not null as is_suppressed

    from member_hashes
    left join suppressed_members
        on
            member_hashes.row_id = suppressed_members.row_id
            and member_hashes.source_column = suppressed_members.source_column

)

select * from final
