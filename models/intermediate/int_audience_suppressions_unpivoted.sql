with

suppressions as (

    select * from {{ ref('stg_audience_suppressions') }}

),

unpivoted as (

    {{ unpivot_identifiers('suppressions', 'suppression_row_id') }}

),

final as (

    select * from unpivoted

)

select * from final
