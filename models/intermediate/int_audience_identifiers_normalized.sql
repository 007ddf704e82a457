{%- set zero_device_id = '00000000-0000-0000-0000-000000000000' %}

with

member_identifiers as (

    select * from {{ ref('int_audience_identifiers_unpivoted') }}

),

suppression_identifiers as (

    select * from {{ ref('int_audience_suppressions_unpivoted') }}

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
                then coalesce(upper(phone_country), '{{ spotify_audiences.default_phone_region() }}')
        end as phone_region

    from identifiers

),

-- exports repeat the same numbers; read each (number, region) pair once
distinct_phones as (

    select distinct
        identifier_value,
        phone_region

    from identifiers_with_region
    where source_column = 'phone'

),

-- the fast path (macros/phone_fast_path.sql): the steps of phonenumbers.parse() in SQL, for
-- numbers of a simple shape; each number it cannot prove it reads the same way goes to the UDF
phones_shaped as (

    select
        identifier_value,
        phone_region,
        {{ strip_non_digits('identifier_value') }} as phone_digits,
        {{ phone_shape('identifier_value') }} as phone_shape

    from distinct_phones

),

phones_with_international_prefix as (

    select
        *,
        case
            when phone_shape = 'plain'
                then {{ phone_prefix_length('phone_digits', 'phone_region', 'international_prefix') }}
        end as international_prefix_length

    from phones_shaped
    where length(phone_digits) >= 3

),

-- a prefix followed by 0 is not an international prefix: the number stays national
phones_routed as (

    select
        *,
        case
            when phone_shape = 'plus' then phone_digits
            when
                international_prefix_length > 0
                and substr(phone_digits, international_prefix_length + 1, 1) <> '0'
                then substr(phone_digits, international_prefix_length + 1)
        end as international_digits,
        coalesce(
            international_prefix_length = 0
            or (
                international_prefix_length > 0
                and substr(phone_digits, international_prefix_length + 1, 1) = '0'
            ),
            false
        ) as is_national

    from phones_with_international_prefix

),

phones_with_calling_code as (

    select
        *,
        case
            when length(international_digits) > 2
                then {{ phone_calling_code('international_digits') }}
        end as international_calling_code,
        case
            when is_national then {{ phone_region_calling_code('phone_region') }}
        end as region_calling_code

    from phones_routed

),

-- a national number may start with the region's own calling code (1 212 555 0100 in US)
phones_with_calling_code_rest as (

    select
        *,
        case
            when left(phone_digits, length(region_calling_code)) = region_calling_code
                then substr(phone_digits, length(region_calling_code) + 1)
        end as calling_code_rest

    from phones_with_calling_code

),

phones_with_calling_code_rest_prefix as (

    select
        *,
        case
            when calling_code_rest <> ''
                then {{ phone_prefix_length('calling_code_rest', 'phone_region', 'national_prefix') }}
            else 0
        end as calling_code_rest_prefix_length

    from phones_with_calling_code_rest

),

phones_with_calling_code_rest_stripped as (

    select
        *,
        {{ phone_strip_national_prefix(
            'calling_code_rest', 'calling_code_rest_prefix_length', 'phone_region'
        ) }} as calling_code_rest_stripped

    from phones_with_calling_code_rest_prefix

),

-- phonenumbers drops that calling code if the number did not match the region's pattern and
-- the rest does, or if the number is too long
phones_split as (

    select
        identifier_value,
        phone_region,
        international_calling_code,
        international_digits,
        is_national,
        phone_digits,
        calling_code_rest_stripped,
        calling_code_rest_prefix_length < 0 as has_unsupported_calling_code_rest_prefix,
        coalesce(
            calling_code_rest_stripped is not null
            and (
                (
                    not {{ phone_matches_general_pattern(
                        'phone_digits', 'phone_region', 'general_matches_calling_code'
                    ) }}
                    and {{ phone_matches_general_pattern(
                        'calling_code_rest_stripped', 'phone_region'
                    ) }}
                )
                or length(phone_digits) > {{ phone_max_length('phone_region') }}
            ),
            false
        ) as national_has_calling_code,
        coalesce(international_calling_code, region_calling_code) as calling_code

    from phones_with_calling_code_rest_stripped

),

phones_with_national_number as (

    select
        identifier_value,
        phone_region,
        calling_code,
        has_unsupported_calling_code_rest_prefix,
        case
            when international_calling_code is not null
                then substr(international_digits, length(international_calling_code) + 1)
            when national_has_calling_code then calling_code_rest_stripped
            when is_national then phone_digits
        end as national_number_raw,
        -- the region whose metadata phonenumbers goes on with
        case
            when international_calling_code is not null or national_has_calling_code
                then {{ phone_main_region('calling_code') }}
            else phone_region
        end as metadata_region

    from phones_split
    where calling_code is not null

),

phones_with_national_prefix as (

    select
        *,
        case
            when national_number_raw <> ''
                then {{ phone_prefix_length(
                    'national_number_raw', 'metadata_region', 'national_prefix'
                ) }}
            else 0
        end as national_prefix_length

    from phones_with_national_number

),

phones_with_national_prefix_stripped as (

    select
        *,
        {{ phone_strip_national_prefix(
            'national_number_raw', 'national_prefix_length', 'metadata_region'
        ) }} as national_number_stripped

    from phones_with_national_prefix
    where
        not has_unsupported_calling_code_rest_prefix
        and national_prefix_length >= 0

),

phones_fast_path as (

    select
        identifier_value,
        phone_region,
        calling_code,
        case
            when {{ phone_length_rejects_stripping('national_number_stripped', 'metadata_region') }}
                then national_number_raw
            else national_number_stripped
        end as national_number

    from phones_with_national_prefix_stripped

),

phones_fast_path_validated as (

    select
        identifier_value,
        phone_region,
        calling_code,
        national_number,
        case
            when length(national_number) between 2 and 17
                then {{ phone_is_valid('national_number', 'calling_code') }}
            else false
        end as is_valid_phone

    from phones_fast_path

),

-- null validity: the number belongs to a region without rules here
phones_fast_path_normalized as (

    select
        identifier_value,
        phone_region,
        case when is_valid_phone then '+' || calling_code || national_number end as phone_e164

    from phones_fast_path_validated
    where is_valid_phone is not null

),

-- every other number goes through phonenumbers itself, once per distinct pair
distinct_phones_normalized as (

    select
        distinct_phones.identifier_value,
        distinct_phones.phone_region,
        case
            when phones_fast_path_normalized.identifier_value is not null
                then phones_fast_path_normalized.phone_e164
            else normalize_phone(distinct_phones.identifier_value, distinct_phones.phone_region)
        end as phone_e164

    from distinct_phones
    left join phones_fast_path_normalized
        on
            distinct_phones.identifier_value = phones_fast_path_normalized.identifier_value
            and distinct_phones.phone_region = phones_fast_path_normalized.phone_region

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
                or suppression_hashes.audience_name = member_hashes.audience_name
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
