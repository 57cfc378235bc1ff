"""In-app placements (展位: banner, pop-up, ad slot): slots, creatives with targeting and schedule, and
the decision the bank app asks for at page load. See docs/design/delivery.md."""
