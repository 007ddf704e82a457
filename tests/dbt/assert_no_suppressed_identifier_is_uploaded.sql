-- No hash on the suppression list reaches the upload: returns the uploaded rows whose audience,
-- identifier type and hash belong to a suppressed member value.
with

identifiers as (

    select * from {{ ref('int_audience_identifiers_normalized') }}

),

uploaded as (

    select * from {{ ref('spotify_audience_identifiers') }}

),

suppressed as (

    select distinct
        audience_name,
        identifier_type,
        identifier_sha256

    from identifiers
    where is_suppressed

),

final as (

    select uploaded.*

    from uploaded
    inner join suppressed
        on
            uploaded.audience_name = suppressed.audience_name
            and uploaded.identifier_type = suppressed.identifier_type
            and uploaded.identifier_sha256 = suppressed.identifier_sha256

)

select * from final
