-- kassa demo data (`supabase db reset` applies it after the migrations).
--
-- A demo store with three tills, a second store with one till, the demo catalog the till
-- ships (assets/catalog.csv: pgrest-lite's tests check that the two never drift apart), and
-- opening stock for both stores.

insert into public.stores (id, name, currency, count_threshold) values
  ('5a1e0000-0000-4000-8000-000000000001', 'Demo store', 'EUR', 0),
  ('5a1e0000-0000-4000-8000-000000000002', 'Second store', 'EUR', 0);

insert into public.devices (id, store_id, name) values
  ('de71ce00-0000-4000-8000-000000000001', '5a1e0000-0000-4000-8000-000000000001', 'Demo till 1'),
  ('de71ce00-0000-4000-8000-000000000002', '5a1e0000-0000-4000-8000-000000000001', 'Demo till 2'),
  ('de71ce00-0000-4000-8000-000000000003', '5a1e0000-0000-4000-8000-000000000001', 'Demo till 3'),
  ('de71ce00-0000-4000-8000-000000000004', '5a1e0000-0000-4000-8000-000000000002', 'Second store till 1');

-- sku, barcode, name, price_cents, tax_rate_bp, price_includes_tax (as in assets/catalog.csv)
insert into public.products (sku, barcode, name, price_cents, tax_rate_bp, price_includes_tax) values
  ('1001', '4000000010012', 'Whole milk 1L', 119, 700, true),
  ('1002', '4000000010029', 'Semi-skimmed milk 1L', 109, 700, true),
  ('1003', '4000000010036', 'Butter 250g', 239, 700, true),
  ('1004', '4000000010043', 'Free-range eggs 10', 329, 700, true),
  ('1005', '4000000010050', 'Gouda cheese 400g', 449, 700, true),
  ('1006', '4000000010067', 'Natural yoghurt 500g', 89, 700, true),
  ('1007', '4000000010074', 'Cream 200ml', 79, 700, true),
  ('1008', '4000000010081', 'Mozzarella 125g', 99, 700, true),
  ('1009', '4000000010098', 'Sourdough bread 750g', 349, 700, true),
  ('1010', '4000000010104', 'Wholemeal toast 500g', 159, 700, true),
  ('1011', '4000000010111', 'Croissant', 69, 700, true),
  ('1012', '4000000010128', 'Bread rolls 6', 149, 700, true),
  ('1013', '4000000010135', 'Bananas 1kg', 169, 700, true),
  ('1014', '4000000010142', 'Apples Braeburn 1kg', 249, 700, true),
  ('1015', '4000000010159', 'Oranges 2kg', 299, 700, true),
  ('1016', '4000000010166', 'Lemons 500g', 149, 700, true),
  ('1017', '4000000010173', 'Tomatoes 500g', 199, 700, true),
  ('1018', '4000000010180', 'Cucumber', 69, 700, true),
  ('1019', '4000000010197', 'Carrots 1kg', 99, 700, true),
  ('1020', '4000000010203', 'Potatoes 2.5kg', 299, 700, true),
  ('1021', '4000000010210', 'Onions 1kg', 119, 700, true),
  ('1022', '4000000010227', 'Garlic 3 bulbs', 129, 700, true),
  ('1023', '4000000010234', 'Iceberg lettuce', 99, 700, true),
  ('1024', '4000000010241', 'Red peppers 500g', 229, 700, true),
  ('1025', '4000000010258', 'Spaghetti 500g', 119, 700, true),
  ('1026', '4000000010265', 'Penne 500g', 119, 700, true),
  ('1027', '4000000010272', 'Basmati rice 1kg', 279, 700, true),
  ('1028', '4000000010289', 'Plain flour 1kg', 89, 700, true),
  ('1029', '4000000010296', 'Sugar 1kg', 129, 700, true),
  ('1030', '4000000010302', 'Sea salt 500g', 59, 700, true),
  ('1031', '4000000010319', 'Olive oil 750ml', 699, 700, true),
  ('1032', '4000000010326', 'Sunflower oil 1L', 249, 700, true),
  ('1033', '4000000010333', 'Tomato passata 500g', 89, 700, true),
  ('1034', '4000000010340', 'Chickpeas tin 400g', 79, 700, true),
  ('1035', '4000000010357', 'Tuna in oil 185g', 199, 700, true),
  ('1036', '4000000010364', 'Peanut butter 350g', 299, 700, true),
  ('1037', '4000000010371', 'Strawberry jam 450g', 229, 700, true),
  ('1038', '4000000010388', 'Honey 500g', 449, 700, true),
  ('1039', '4000000010395', 'Oat flakes 500g', 99, 700, true),
  ('1040', '4000000010401', 'Cornflakes 375g', 249, 700, true),
  ('1041', '4000000010418', 'Ground coffee 500g', 599, 700, true),
  ('1042', '4000000010425', 'Black tea 50 bags', 199, 700, true),
  ('1043', '4000000010432', 'Dark chocolate 100g', 149, 700, true),
  ('1044', '4000000010449', 'Salted crisps 175g', 179, 700, true),
  ('1045', '4000000010456', 'Mineral water 1.5L', 49, 1900, true),
  ('1046', '4000000010463', 'Orange juice 1L', 189, 700, true),
  ('1047', '4000000010470', 'Cola 1.5L', 149, 1900, true),
  ('1048', '4000000010487', 'Lager beer 0.5L', 99, 1900, true),
  ('1049', '4000000010494', 'Red wine 0.75L', 599, 1900, true),
  ('1050', '4000000010500', 'Chicken breast 500g', 599, 700, true),
  ('1051', '4000000010517', 'Minced beef 500g', 549, 700, true),
  ('1052', '4000000010524', 'Salmon fillet 250g', 699, 700, true),
  ('1053', '4000000010531', 'Frozen peas 1kg', 199, 700, true),
  ('1054', '4000000010548', 'Vanilla ice cream 1L', 349, 700, true),
  ('1055', '4000000010555', 'Frozen pizza Margherita', 299, 700, true),
  ('1056', '4000000010562', 'Toilet paper 8 rolls', 399, 1900, true),
  ('1057', '4000000010579', 'Kitchen towels 4 rolls', 299, 1900, true),
  ('1058', '4000000010586', 'Washing-up liquid 500ml', 149, 1900, true),
  ('1059', '4000000010593', 'Laundry detergent 1.5L', 599, 1900, true),
  ('1060', '4000000010609', 'Toothpaste 75ml', 179, 1900, true),
  ('1061', '4000000010616', 'Shampoo 300ml', 299, 1900, true),
  ('1062', '4000000010623', 'Hand soap 250ml', 129, 1900, true),
  ('1063', '4000000010630', 'Batteries AA 4', 499, 1900, true),
  ('1064', null, 'Carrier bag', 20, 1900, true),
  ('1065', '4000000010654', 'Newspaper', 250, 700, true),
  ('1066', null, 'Postage stamp', 95, 0, true);

-- Opening stock: a receipt in the ledger and the derived level. Demo store: 24 of everything
-- (500 bags and stamps); second store: 12 (500).
with opening as (
  select s.id as store_id, p.id as product_id,
         case when p.sku in ('1064', '1066') then 500
              when s.id = '5a1e0000-0000-4000-8000-000000000001' then 24
              else 12 end as qty
  from public.stores s cross join public.products p
), moved as (
  insert into public.stock_movements (store_id, product_id, delta, reason, event_time)
  select store_id, product_id, qty, 'receipt', now() from opening
)
insert into public.stock_levels (store_id, product_id, on_hand)
select store_id, product_id, qty from opening;
