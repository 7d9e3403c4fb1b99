DROP TABLE product_images;
DROP TABLE variants;
DROP TABLE products;
DROP TABLE categories;
