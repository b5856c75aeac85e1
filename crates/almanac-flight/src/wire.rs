//! The types sent to clients. DataFusion reads strings as `Utf8View`, which
//! older Flight SQL drivers and SQLAlchemy dialects do not know: every view
//! type (also inside lists and structs) goes out as its classic form.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

/// The type a client receives for `data_type`.
pub fn wire_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::ListView(field) | DataType::List(field) => DataType::List(wire_field(field)),
        DataType::LargeListView(field) | DataType::LargeList(field) => {
            DataType::LargeList(wire_field(field))
        }
        DataType::FixedSizeList(field, size) => DataType::FixedSizeList(wire_field(field), *size),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(wire_field).collect::<Fields>())
        }
        DataType::Map(field, sorted) => DataType::Map(wire_field(field), *sorted),
        other => other.clone(),
    }
}

fn wire_field(field: &FieldRef) -> FieldRef {
    Arc::new(
        Field::new(
            field.name(),
            wire_type(field.data_type()),
            field.is_nullable(),
        )
        .with_metadata(field.metadata().clone()),
    )
}

/// The schema a client receives.
pub fn wire_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<FieldRef> = schema.fields().iter().map(wire_field).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A batch in the client's types, under `schema` (from [`wire_schema`]).
pub fn to_wire(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringViewArray};

    #[test]
    fn views_become_classic_types() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Utf8View, false),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true))),
                true,
            ),
            Field::new("amount", DataType::Float64, true),
        ]);
        let wire = wire_schema(&schema);
        assert_eq!(wire.field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            wire.field(1).data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
        assert_eq!(wire.field(2).data_type(), &DataType::Float64);

        let ids: ArrayRef = Arc::new(StringViewArray::from(vec![
            "BOND1",
            "a much longer identifier",
        ]));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "id",
                DataType::Utf8View,
                false,
            )])),
            vec![ids],
        )
        .expect("batch");
        let wire = wire_schema(&batch.schema());
        let out = to_wire(&batch, &wire).expect("cast");
        assert_eq!(out.column(0).data_type(), &DataType::Utf8);
        assert_eq!(out.column(0).len(), 2);
    }
}
