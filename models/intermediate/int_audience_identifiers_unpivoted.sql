with

members as (

    select * from {{ ref('stg_audience_members') }}

),

unpivoted as (

    {{ unpivot_identifiers('members', 'member_row_id') }}

),

final as (

    select * from unpivoted

)

select * from final
