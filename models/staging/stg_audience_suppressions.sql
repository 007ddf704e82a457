with

source as (

    {{ audience_suppressions_source() }}

),

renamed as (

    select
        ----------  ids
        {{ spotify_audiences.spotify_audiences_row_key(spotify_audiences.member_columns()) }}
            as suppression_row_id,

        ----------  audience: null means every audience
        nullif({{ trim_whitespace('audience_name') }}, '') as audience_name,

        ----------  identifiers, exactly as listed
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
