{%- set settings = spotify_audiences.spotify_audiences_settings() -%}

with

members as (

    select * from {{ ref('stg_audience_members') }}

),

identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

audience_identifiers as (

    select * from {{ ref('spotify_audience_identifiers') }}

),

-- per-audience settings of the var spotify_audiences_config, resolved at build time
configured_settings as (

    {{ spotify_audiences.spotify_audiences_settings_select(settings) }}

),

member_counts as (

    select
        audience_name,
        cast(count(*) as bigint) as member_rows

    from members
    group by 1

),

identifier_counts as (

    select
        audience_name,
        cast(count(*) as bigint) as identifiers_submitted,
        cast(count(case when not is_valid then 1 end) as bigint) as identifiers_rejected,
        cast(count(case when is_valid then 1 end) as bigint) as identifiers_hashed

    from identifiers
    group by 1

),

-- valid values withheld because they match the suppression list (they count as hashed too)
suppressed_counts as (

    select
        audience_name,
        count(*) as identifiers_suppressed,
        count(case when identifier_type = 'EMAIL_ID_SHA256' then 1 end) as suppressed_email,
        count(case when identifier_type = 'PHONE_NUMBER_SHA256' then 1 end) as suppressed_phone,
        count(case when identifier_type = 'DEVICE_ID_SHA256' then 1 end) as suppressed_device_id

    from identifiers
    where is_suppressed
    group by 1

),

distinct_hash_counts as (

    select
        audience_name,
        cast(count(*) as bigint) as distinct_hashes

    from audience_identifiers
    group by 1

),

final as (

    select
        member_counts.audience_name,
        member_counts.member_rows,
        coalesce(identifier_counts.identifiers_submitted, 0) as identifiers_submitted,
        coalesce(identifier_counts.identifiers_rejected, 0) as identifiers_rejected,
        coalesce(identifier_counts.identifiers_hashed, 0) as identifiers_hashed,
        coalesce(distinct_hash_counts.distinct_hashes, 0) as distinct_hashes,
        -- audiences the var does not name take its defaults
        cast(coalesce(
            configured_settings.ad_account_id,
            {{ spotify_audiences.spotify_audiences_text_literal(settings.defaults.ad_account_id) }}
        ) as varchar) as ad_account_id,
        cast(configured_settings.audience_id as varchar) as audience_id,
        cast(coalesce(
            configured_settings.description,
            {{ spotify_audiences.spotify_audiences_text_literal(settings.defaults.description) }}
        ) as varchar) as description,
        cast(coalesce(
            configured_settings.min_identifiers,
            {{ spotify_audiences.spotify_audiences_number_literal(
                settings.defaults.min_identifiers
            ) }}
        ) as integer) as min_identifiers,
        cast(coalesce(
            configured_settings.max_shrink,
            {{ spotify_audiences.spotify_audiences_number_literal(settings.defaults.max_shrink) }}
        ) as double) as max_shrink,
        cast(coalesce(
            configured_settings.max_rejected_share,
            {{ spotify_audiences.spotify_audiences_number_literal(
                settings.defaults.max_rejected_share
            ) }}
        ) as double) as max_rejected_share,
        cast(
            coalesce(suppressed_counts.identifiers_suppressed, 0) as bigint
        ) as identifiers_suppressed,
        cast(coalesce(suppressed_counts.suppressed_email, 0) as bigint) as suppressed_email,
        cast(coalesce(suppressed_counts.suppressed_phone, 0) as bigint) as suppressed_phone,
        cast(coalesce(suppressed_counts.suppressed_device_id, 0) as bigint) as suppressed_device_id

    from member_counts
    left join identifier_counts
        on member_counts.audience_name = identifier_counts.audience_name
    left join distinct_hash_counts
        on member_counts.audience_name = distinct_hash_counts.audience_name
    left join configured_settings
        on member_counts.audience_name = configured_settings.audience_name
    left join suppressed_counts
        on member_counts.audience_name = suppressed_counts.audience_name

)

select * from final
