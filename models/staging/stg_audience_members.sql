with

source as (

    {{ spotify_audiences.audience_members_source() }}

),

renamed as (

    select
        ----------  ids
        {{ spotify_audiences.spotify_audiences_row_key(spotify_audiences.member_columns()) }}
            as member_row_id,

        ----------  audience
        nullif({{ spotify_audiences.trim_whitespace('audience_name') }}, '') as audience_name,

        ----------  identifiers, exactly as exported
        email,
        phone,
        phone_country,
        device_id,
        email_sha256,
        phone_sha256,
        device_id_sha256

    from source

)

select * from renamed
